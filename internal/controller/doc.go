// Package controller runs the control loops of `tug server` — one package per kind
// of object under internal/controller/ — as one controller manager: shared informers,
// one event recorder, and leader election so that only one server acts at a time.
//
// A controller package registers a Factory from init(); internal/controller/all
// imports every controller package so that the manager sees them.
package controller
