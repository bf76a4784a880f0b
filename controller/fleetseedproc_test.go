package controller_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// seedNode is what the seed needs of a node, as a child process is given
// it (on its input, in JSON).
type seedNode struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Iface  string `json:"iface"`
	IPPool string `json:"ip_pool"`
}

// seedInChild runs storetest.SeedPendingPeers on the database at path in
// a child process (the test binary again, TestHelperSeed), so that the
// seed's CPU and memory (its SQLite page cache) stay out of the
// controller's process, whose own figures the benchmark reports. The
// child gets the nodes on its input and answers "seeded N FORAGENTS" on
// its descriptor 3; it is killed when it has not ended within bound, and
// always reaped.
func seedInChild(b *testing.B, path string, nodes []store.Node, perNode int, bound time.Duration) (seeded, forAgents int) {
	b.Helper()
	in := make([]seedNode, len(nodes))
	for i, n := range nodes {
		in[i] = seedNode{ID: n.ID, Name: n.Name, Iface: n.WGInterface, IPPool: n.IPPool.String()}
	}
	input, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperSeed$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "WGFLEET_FLEET_SEED_DB="+path, "WGFLEET_FLEET_SEED_PER_NODE="+strconv.Itoa(perNode))
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	w.Close()
	if err != nil {
		b.Fatalf("starting the seed: %v", err)
	}
	var line string
	sc := bufio.NewScanner(r)
	if sc.Scan() {
		line = sc.Text()
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("the seed's process: %v", err)
	}
	if _, err := fmt.Sscanf(line, "seeded %d %d", &seeded, &forAgents); err != nil {
		b.Fatalf("the seed's process answered %q", line)
	}
	return seeded, forAgents
}

// TestHelperSeed is not a test: run by seedInChild in a process of its
// own, it seeds the database WGFLEET_FLEET_SEED_DB names.
func TestHelperSeed(t *testing.T) {
	path := os.Getenv("WGFLEET_FLEET_SEED_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	perNode, err := strconv.Atoi(os.Getenv("WGFLEET_FLEET_SEED_PER_NODE"))
	if err != nil {
		t.Fatal(err)
	}
	var in []seedNode
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		t.Fatalf("the nodes to seed: %v", err)
	}
	nodes := make([]store.Node, len(in))
	for i, n := range in {
		pool, err := netip.ParsePrefix(n.IPPool)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = store.Node{ID: n.ID, Name: n.Name, WGInterface: n.Iface, IPPool: pool}
	}
	seeded, forAgents := storetest.SeedPendingPeers(t, path, nodes, perNode)
	out := os.NewFile(3, "result")
	defer out.Close()
	if _, err := fmt.Fprintf(out, "seeded %d %d\n", seeded, forAgents); err != nil {
		t.Fatal(err)
	}
}
