// Package openapi builds and serves the OpenAPI documents of the API: /openapi/v2
// (Swagger 2.0, JSON or protobuf) and /openapi/v3 (an index plus one OpenAPI 3.0
// document per group version).
//
// kubectl cannot do without them: `apply`, `create -f` and `replace -f` read the v3
// document of a group version to learn that the server validates fields itself
// (the fieldValidation parameter of PATCH) and to find the patch strategy of each
// list when building a strategic merge patch; `explain` prints the schemas. The
// same definitions feed the server-side apply type converter.
//
// The schemas are derived by reflection from the Go types the registry serves:
// field names, omitempty and patch tags from struct tags, descriptions from the
// generated SwaggerDoc() methods, and the facts the API packages state only in
// comment markers (list and map shapes, defaults, enums) from a table generated
// from those packages' sources (markers_generated.go). Everything is built once,
// when the server starts.
package openapi

//go:generate go run ./internal/genmarkers markers_generated.go
