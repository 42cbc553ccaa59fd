#include <linux/io_uring.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	syscall(__NR_io_uring_setup, 8, &p);      /* ok (or EPERM where disabled) */
	syscall(__NR_io_uring_setup, 0, &p);      /* EINVAL: zero entries */
	return 0;
}
