//go:build !amd64 && !arm64

package collective

// sysProcessVMReadv is 0 where its number is not wired up: shared memory
// links then always copy through the ring.
const sysProcessVMReadv = 0
