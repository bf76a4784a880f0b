package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine is what a run records of the machine it ran on.
type Machine struct {
	Uname     string `json:"uname"`
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Go        string `json:"go"`
	Commit    string `json:"commit"`
	LoadStart string `json:"load_start"`
}

func machine(ctx context.Context, root string) Machine {
	m := Machine{CPU: cpuModel(), CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAverage()}
	if out, err := exec.CommandContext(ctx, "uname", "-srvm").Output(); err == nil {
		m.Uname = strings.TrimSpace(string(out))
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

func (m Machine) summary() string {
	return fmt.Sprintf("machine: %s\ncpu: %s (%d CPUs); %s; commit %s\nload average before: %s",
		m.Uname, m.CPU, m.CPUs, m.Go, m.Commit, m.LoadStart)
}

// cpuModel is the first "model name" of /proc/cpuinfo; "" elsewhere.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage is the 1, 5 and 15 minute load averages of /proc/loadavg;
// "" elsewhere. The machine may be shared: the table prints it so a
// reader can weigh the figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
