// Preloaded (node --import) into every long-lived child the bench starts:
// the child ends itself once the bench is gone, even when the bench was
// killed outright and ran no exit hook (Node cannot ask the kernel for a
// parent-death signal). The bench's own exit hooks are children.ts.

const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL') }, 250).unref()
