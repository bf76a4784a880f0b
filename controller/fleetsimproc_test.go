package controller_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The simulated agents of BenchmarkControllerFleet in child processes:
// the test binary run again with WGFLEET_SIM_AGENTS=FROM,TO,TOTAL runs
// only TestHelperSimAgents, which serves agents FROM to TO (of TOTAL:
// simListen's addresses and simSecret's secrets depend only on the
// index, so each agent is the one the in-process fleet would start).
// The parent talks to it over two pipes, the child's descriptors 3
// (commands, one a line) and 4 (answers):
//
//	child:  "agent URL" for each of its agents, in order, then "ready"
//	"stats"    -> "stats ACCEPTS MINPOLLS ARRIVALS LAST" (LAST: Unix ns, 0 for none)
//	"arrived"  -> "arrived N", then N lines "KEY UNIXNANO"
//	end of the commands -> the child stops its agents and exits
//
// The parent closes the commands when the benchmark ends and kills a
// child that has not exited 15 s later; a child also gets SIGKILL if the
// parent dies (Pdeathsig), and the end of its commands if the parent's
// descriptors close, so no child outlives the benchmark.

// simProcAgents is the most agents one child process serves by default:
// about 4,000 files (a listener and a connection each), well under the
// 20,000 a process may hold here.
const simProcAgents = 2000

// simProc is one child process serving a slice of the simulated agents.
type simProc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex // one exchange at a time
	cmds    *os.File   // the child's commands (its descriptor 3)
	answers *os.File   // the child's answers (its descriptor 4)
	in      *bufio.Reader
	exited  chan struct{} // closed once cmd.Wait has returned
}

// startSimProc starts the child serving agents from to to (of total).
func startSimProc(tb testing.TB, from, to, total int) *simProc {
	tb.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	args := []string{"-test.run=^TestHelperSimAgents$"}
	if f := flag.Lookup("test.timeout"); f != nil {
		args = append(args, "-test.timeout="+f.Value.String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("WGFLEET_SIM_AGENTS=%d,%d,%d", from, to, total))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // the benchmark's output stays its own
	cmd.ExtraFiles = []*os.File{cmdR, ansW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	cmdR.Close()
	ansW.Close()
	if err != nil {
		cmdW.Close()
		ansR.Close()
		tb.Fatalf("starting simulated agents %d-%d: %v", from, to-1, err)
	}
	p := &simProc{cmd: cmd, cmds: cmdW, answers: ansR, in: bufio.NewReader(ansR), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(p.stop)
	return p
}

// stop ends the child: the end of its commands, then SIGKILL if it has
// not exited within 15 s. It returns once the child is reaped.
func (p *simProc) stop() {
	p.cmds.Close()
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.answers.Close()
}

// line reads one answer line, waiting at most d.
func (p *simProc) line(d time.Duration) (string, error) {
	if err := p.answers.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	s, err := p.in.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("simulated agents' process %d: %w", p.cmd.Process.Pid, err)
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// ready waits for the child's agents and returns their URLs.
func (p *simProc) ready(tb testing.TB) []string {
	tb.Helper()
	var urls []string
	for {
		s, err := p.line(5 * time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		if s == "ready" {
			return urls
		}
		u, ok := strings.CutPrefix(s, "agent ")
		if !ok {
			tb.Fatalf("simulated agents: %q before ready", s)
		}
		urls = append(urls, u)
	}
}

// ask sends one command and returns the first line of its answer, which
// must start with the command's name.
func (p *simProc) ask(tb testing.TB, cmd string) []string {
	tb.Helper()
	if _, err := fmt.Fprintln(p.cmds, cmd); err != nil {
		tb.Fatalf("simulated agents' process %d: %v", p.cmd.Process.Pid, err)
	}
	s, err := p.line(time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(s)
	if len(f) == 0 || f[0] != cmd {
		tb.Fatalf("simulated agents answered %q to %q", s, cmd)
	}
	return f[1:]
}

// stats is what the child's agents counted so far.
func (p *simProc) stats(tb testing.TB) simStats {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.ask(tb, "stats")
	if len(f) != 4 {
		tb.Fatalf("simulated agents' stats %q", f)
	}
	n := make([]int64, len(f))
	for i, s := range f {
		var err error
		if n[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			tb.Fatalf("simulated agents' stats %q", f)
		}
	}
	st := simStats{accepts: n[0], minPolls: int(n[1]), arrivals: int(n[2])}
	if n[3] != 0 {
		st.last = time.Unix(0, n[3])
	}
	return st
}

// arrived adds to into when each peer key of the child's agents first
// reached its agent.
func (p *simProc) arrived(tb testing.TB, into map[string]time.Time) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.ask(tb, "arrived")
	if len(f) != 1 {
		tb.Fatalf("simulated agents' arrivals %q", f)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		tb.Fatalf("simulated agents' arrivals %q", f)
	}
	for range n {
		s, err := p.line(time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		k, t, ok := strings.Cut(s, " ")
		ns, err := strconv.ParseInt(t, 10, 64)
		if !ok || err != nil {
			tb.Fatalf("simulated agents' arrival %q", s)
		}
		into[k] = time.Unix(0, ns)
	}
}

// TestHelperSimAgents is not a test: run by startSimProc in a process of
// its own, it serves a slice of BenchmarkControllerFleet's simulated
// agents and answers the parent's commands (above).
func TestHelperSimAgents(t *testing.T) {
	spec := os.Getenv("WGFLEET_SIM_AGENTS")
	if spec == "" {
		t.Skip("helper process only")
	}
	var from, to, total int
	if _, err := fmt.Sscanf(spec, "%d,%d,%d", &from, &to, &total); err != nil || from < 0 || to <= from || total < to {
		t.Fatalf("WGFLEET_SIM_AGENTS=%q: want FROM,TO,TOTAL", spec)
	}
	cmds, answers := os.NewFile(3, "commands"), os.NewFile(4, "answers")
	defer answers.Close()
	s := startSimAgents(t, from, to, total)
	w := bufio.NewWriter(answers)
	for _, u := range s.urls {
		fmt.Fprintf(w, "agent %s\n", u)
	}
	fmt.Fprintln(w, "ready")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(cmds)
	for in.Scan() { // until the parent closes the commands
		switch in.Text() {
		case "stats":
			st := s.stats()
			var last int64
			if !st.last.IsZero() {
				last = st.last.UnixNano()
			}
			fmt.Fprintf(w, "stats %d %d %d %d\n", st.accepts, st.minPolls, st.arrivals, last)
		case "arrived":
			a := s.arrivedCopy()
			fmt.Fprintf(w, "arrived %d\n", len(a))
			for k, at := range a {
				fmt.Fprintf(w, "%s %d\n", k, at.UnixNano())
			}
		default:
			t.Fatalf("simulated agents: unknown command %q", in.Text())
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Err(); err != nil {
		t.Fatal(err)
	}
}
