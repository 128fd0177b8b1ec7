package target

// Drill is what a deployment drill changes about the servers of a trial:
// which binary runs before and after the fault, and who owns the volume.
// The zero value changes nothing.
type Drill struct {
	// ServerBin is the original server's binary (local); empty: the
	// target's own.
	ServerBin string
	// ReplacementBin is the binary the replacement runs on the same data
	// directory (local): an upgrade or a rollback. Empty: the same as the
	// original.
	ReplacementBin string
	// ReplacementTaskDefinition is a registered task definition revision
	// (ARN) the ECS replacement runs: the service is updated to it instead
	// of a new revision being registered.
	ReplacementTaskDefinition string
	// RunAsUID runs every server as this uid (and gid) (local; needs
	// root); nil: the harness's own user.
	RunAsUID *int
	// DirOwnerUID makes the data directory belong to this uid and gid, mode
	// 0755, before the first server starts; nil: left as created.
	DirOwnerUID *int
}
