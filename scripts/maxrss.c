/* Runs a command and prints its peak RSS in KiB.
 *
 * Linux carries the forking parent's resident set into the child's ru_maxrss (the child's
 * memory before exec counts), so measuring from Python would add Python's ~10 MiB to every
 * sample. This launcher is static and tiny, so the floor it adds is about 1 MiB, the same
 * for every tool measured. Built by scripts/bench. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: maxrss COMMAND [ARGS...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 2;
  }
  printf("%ld\n", usage.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
