package collective

import "syscall"

// sysProcessVMReadv is process_vm_readv's number.
const sysProcessVMReadv = syscall.SYS_PROCESS_VM_READV
