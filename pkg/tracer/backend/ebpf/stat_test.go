package ebpf_test

import "syscall"

type syscallStat struct{ ino uint64 }

func (s *syscallStat) of(path string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err
	}
	s.ino = st.Ino
	return nil
}
