package check

// SetChunkSize makes Classify and WrittenSeqs read streams n ops at a time
// until the returned func restores the default.
func SetChunkSize(n int) (restore func()) {
	old := chunkSize
	chunkSize = n
	return func() { chunkSize = old }
}

// FromServer is fromServer, for the table of errors it marks.
var FromServer = fromServer
