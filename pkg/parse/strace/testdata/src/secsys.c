/* secsys: performs the security-relevant syscalls faasmon traces, each once
 * where it fails and (where an unprivileged user can) once where it succeeds.
 * Usage: secsys unpriv DIR        (run as nobody: failures + unprivileged successes)
 *        secsys userns DIR        (run as nobody: unshare a user+mount+net namespace,
 *                                  then the privileged calls succeed inside it)
 *        secsys ptrace PID        (attach to PID, a process strace does not trace) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/fsuid.h>
#include <sys/wait.h>

static void w(const char *p, const char *s) {
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) { write(fd, s, strlen(s)); close(fd); }
}

static void files(const char *dir) {
	char a[512], b[512], c[512];
	if (chdir(dir) != 0) { perror("chdir"); exit(1); }
	/* mkdir / mkdirat */
	mkdir("work", 0750);                     /* ok */
	mkdir("/etc/faasmon-x", 0755);           /* EACCES */
	int d = open(".", O_RDONLY | O_DIRECTORY);
	mkdirat(d, "work/sub", 0700);            /* ok */
	mkdirat(d, "work/sub", 0700);            /* EEXIST */
	w("work/data.txt", "hello world\n");
	/* link family */
	link("work/data.txt", "work/hard.txt");  /* ok */
	link("/etc/shadow", "work/shadow-link"); /* EPERM (protected_hardlinks) */
	linkat(d, "work/data.txt", d, "work/hard2.txt", 0); /* ok */
	linkat(AT_FDCWD, "/etc/passwd", d, "work/pw-link", 0); /* EPERM? */
	symlink("/etc/shadow", "work/sym-shadow"); /* ok */
	symlink("/tmp", "/etc/faasmon-sym");     /* EACCES */
	symlinkat("../data.txt", d, "work/sub/sym2"); /* ok */
	symlinkat("x", d, "nonexistent-dir/sym"); /* ENOENT */
	/* chmod family */
	int f = open("work/data.txt", O_RDWR);
	fchmod(f, 0755);                         /* ok */
	int e = open("/etc/passwd", O_RDONLY);
	fchmod(e, 0666);                         /* EPERM */
	syscall(452 /* fchmodat2 */, d, "work/data.txt", 0700, 0); /* ok (strace 6.1 cannot name it) */
	/* truncate family */
	truncate("work/data.txt", 5);            /* ok */
	truncate("/etc/passwd", 0);              /* EACCES */
	ftruncate(f, 3);                         /* ok */
	ftruncate(e, 0);                         /* EINVAL (read-only fd) */
	/* memfd_create */
	int m = memfd_create("payload", MFD_CLOEXEC); /* ok */
	write(m, "#!/bin/sh\necho hi\n", 18);
	memset(a, 'n', 300); a[300] = 0;
	memfd_create(a, 0);                      /* EINVAL (name too long) */
	/* sendfile / splice / copy_file_range */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	int in = open("work/hard.txt", O_RDONLY);
	off_t off = 0;
	sendfile(sv[0], in, &off, 100);          /* ok, to a UNIX socket */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	bind(ls, (struct sockaddr *)&sa, sizeof sa);  /* ok, port 0 */
	listen(ls, 4);                           /* ok */
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	int cs = socket(AF_INET, SOCK_STREAM, 0);
	connect(cs, (struct sockaddr *)&sa, sizeof sa);
	int as = accept(ls, NULL, NULL);
	off = 0;
	sendfile(cs, in, &off, 100);             /* ok, to TCP */
	sendfile(cs, d, NULL, 100);              /* EINVAL (a directory) */
	int p[2];
	pipe(p);
	off = 0;
	splice(in, &off, p[1], NULL, 100, 0);    /* ok, file -> pipe */
	splice(p[0], NULL, cs, NULL, 100, 0);    /* ok, pipe -> TCP */
	splice(in, NULL, f, NULL, 100, 0);       /* EINVAL (no pipe) */
	int out = open("work/copy.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	copy_file_range(in, NULL, out, NULL, 100, 0); /* ok */
	copy_file_range(in, NULL, e, NULL, 100, 0);   /* EBADF (read-only out) */
	/* socket / bind / listen */
	socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)); /* EPERM */
	socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); /* EPERM */
	socket(AF_INET6, SOCK_RAW, IPPROTO_RAW); /* EPERM */
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_ANY)};
	bind(u, (struct sockaddr *)&lo, sizeof lo); /* EACCES (port < 1024) */
	listen(u, 1);                            /* EOPNOTSUPP (UDP) */
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 l6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bind(s6, (struct sockaddr *)&l6, sizeof l6); /* ok */
	listen(s6, 1);                           /* ok */
	int us = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un { sa_family_t f; char p[108]; } un = {.f = AF_UNIX};
	snprintf(un.p, sizeof un.p, "%s/work/ctl.sock", dir);
	bind(us, (struct sockaddr *)&un, sizeof un); /* ok */
	listen(us, 1);
	(void)as; (void)b; (void)c;
}

static void ids(void) {
	setuid(0);                               /* EPERM */
	setuid(getuid());                        /* ok */
	setgid(0);                               /* EPERM */
	setgid(getgid());                        /* ok */
	setreuid(-1, 0);                         /* EPERM */
	setreuid(-1, getuid());                  /* ok */
	setresuid(0, 0, 0);                      /* EPERM */
	setresuid(-1, -1, -1);                   /* ok */
	setresgid(0, 0, 0);                      /* EPERM */
	setresgid(-1, -1, -1);                   /* ok */
	setfsuid(0);                             /* no error: returns the old fsuid */
	setfsgid(0);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct dd[2] = {{1u << CAP_SYS_ADMIN, 1u << CAP_SYS_ADMIN, 0}, {0, 0, 0}};
	syscall(SYS_capset, &h, dd);             /* EPERM */
	struct __user_cap_data_struct z[2] = {{0, 0, 0}, {0, 0, 0}};
	syscall(SYS_capset, &h, z);              /* ok (drop nothing held) */
}

static void ns(const char *dir, int inside) {
	char t[512];
	snprintf(t, sizeof t, "%s/mnt", dir);
	mkdir(t, 0755);
	mount("none", t, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"); /* EPERM outside */
	mount("/etc", t, NULL, MS_BIND | MS_REC, NULL);             /* EPERM outside */
	umount2(t, MNT_DETACH);                  /* EPERM outside / ok inside */
	umount2("/", 0);                         /* EPERM */
	int n = open("/proc/self/ns/net", O_RDONLY);
	setns(n, CLONE_NEWNET);                  /* EPERM outside, ok inside */
	int one = open("/proc/1/ns/mnt", O_RDONLY); /* EACCES as nobody */
	(void)one;
	if (!inside) {
		unshare(CLONE_NEWNS | CLONE_NEWNET); /* EPERM */
	}
	socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)); /* EPERM outside, ok in own netns */
	socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	setuid(0);                               /* EPERM outside, ok inside (0 mapped) */
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	if (!strcmp(argv[1], "unpriv")) {
		files(argv[2]);
		ids();
		ns(argv[2], 0);
	} else if (!strcmp(argv[1], "userns")) {
		uid_t u = getuid(); gid_t g = getgid();
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) { perror("unshare"); return 1; }
		char m[64];
		w("/proc/self/setgroups", "deny");
		snprintf(m, sizeof m, "0 %u 1", u); w("/proc/self/uid_map", m);
		snprintf(m, sizeof m, "0 %u 1", g); w("/proc/self/gid_map", m);
		ns(argv[2], 1);
		mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL); /* ok */
		char t[512]; snprintf(t, sizeof t, "%s/mnt", argv[2]);
		mount("none", t, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"); /* ok */
		umount2(t, 0);                           /* ok */
		unshare(CLONE_NEWUTS);                   /* ok */
	} else if (!strcmp(argv[1], "ptrace")) {
		pid_t p = atoi(argv[2]);
		ptrace(PTRACE_ATTACH, 1, 0, 0);          /* EPERM */
		if (ptrace(PTRACE_ATTACH, p, 0, 0) == 0) { /* ok */
			waitpid(p, NULL, 0);
			ptrace(PTRACE_PEEKDATA, p, 0x1000, 0); /* EIO */
			ptrace(PTRACE_DETACH, p, 0, 0);      /* ok */
		}
		ptrace(PTRACE_TRACEME, 0, 0, 0);         /* EPERM: strace traces us */
	}
	return 0;
}
