#!/bin/sh
# Remakes the real traces of this directory: each workload runs as the
# unprivileged user nobody (as function processes do), under the strace
# the tracer runs (same flags; the syscall set of pkg/tracer/sensor plus the
# security-relevant calls). Run as root from this directory.
set -eu
TR=execve,execveat,clone,clone3,fork,vfork,open,openat,openat2,creat,read,write,readv,writev,pread64,pwrite64,preadv,pwritev,unlink,unlinkat,rename,renameat,renameat2,chmod,fchmod,fchmodat,connect,accept,accept4,recvfrom,sendto,recvmsg,sendmsg,socket,dup,dup2,dup3,exit_group,kill,ptrace,setuid,setgid,setreuid,setregid,setresuid,setresgid,capset,mount,umount2,unshare,setns,memfd_create,link,linkat,symlink,symlinkat,bind,listen,truncate,ftruncate,sendfile,splice,copy_file_range,mmap
W=/tmp/faasmon-inv
rm -rf $W; mkdir -p $W/home; chown -R nobody: $W
run() { # name, shell command
	# strace runs as nobody too, so that the trace starts at the workload
	# and holds none of the wrapper's own set*id calls.
	setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=$W/home PATH=/usr/bin:/bin \
		strace -f -ttt -yy -s 256 -e trace=$TR -o "$W/$1.strace" sh -c "cd $W; $2" || true
	mv "$W/$1.strace" "$1.strace"
}
cd "$(dirname "$0")"
run attempts 'cat /etc/shadow; cat /proc/1/environ; echo "* * * * * sh -c id" > /etc/cron.d/x; echo ssh-rsa AAAA >> /root/.ssh/authorized_keys; grep -s password /etc/hostname; true'
run drift "cp /bin/true $W/p; chmod +x $W/p; $W/p; printf '#!/bin/sh\ntrue\n' > $W/s.sh; sh $W/s.sh; mkdir -p $W/.h; cp /bin/true $W/.h/x; $W/.h/x"
run history "ln -sf /dev/null \$HOME/.bash_history; rm -f \$HOME/.zsh_history; true"
run histtrunc "cat /dev/null > \$HOME/.bash_history; : > \$HOME/.ash_history; true"
run privilege 'setpriv --reuid=0 true; unshare -m true; mount -t tmpfs none /mnt; true'
run libload "cp /usr/lib/x86_64-linux-gnu/libm.so.6 $W/libx.so; python3 -c \"import ctypes; ctypes.CDLL('$W/libx.so')\"; LD_PRELOAD=$W/libx.so /usr/bin/true"
run benign "id -un; cat /etc/hostname > $W/out; ls $W > /dev/null; rm $W/out"
rm -rf $W
