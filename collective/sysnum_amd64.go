package collective

// sysProcessVMReadv is process_vm_readv's number, missing from package
// syscall on amd64.
const sysProcessVMReadv = 310
