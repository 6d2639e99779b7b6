// Command pause is the sandbox process of every pod, built statically
// (CGO_ENABLED=0) by `make build`; the node agent turns it into its pause image.
package main

import "tug/internal/agent/images/pauseproc"

func main() { pauseproc.Run() }
