/** Whether a process id belongs to a running process (for stale locks and temporaries). */
export function isProcessAlive(pid: number): boolean {
  if (!(Number.isInteger(pid) && pid > 0)) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
