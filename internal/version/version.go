// Package version holds the build's version strings (set with -ldflags -X).
package version

var (
	// Version is tug's own version.
	Version = "0.1.0-dev"
	// Kubernetes is the Kubernetes version tug serves the API of; kubectl picks its
	// behaviour from the minor version.
	Kubernetes = "v1.32.4+tug"
	// Commit is the git commit tug was built from.
	Commit = "unknown"
	// BuildDate is when tug was built (RFC 3339).
	BuildDate = "1970-01-01T00:00:00Z"
)
