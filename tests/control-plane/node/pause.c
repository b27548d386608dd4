/* The sandbox's first process (what registry.k8s.io/pause does): holds the Pod's namespaces open,
 * reaps orphans, exits on INT/TERM. Built static (musl) into an empty image by ../node-up. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
