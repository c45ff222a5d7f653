package testenv

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartAndStop(t *testing.T) {
	a, err := StartAzurite(t.Context(), nil)
	if err != nil {
		t.Fatalf("StartAzurite: %v", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port()))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Azurite does not answer on %s: %v", addr, err)
	}
	conn.Close()
	if cs := a.ConnectionString(); !strings.Contains(cs, "TableEndpoint=http://"+addr+"/devstoreaccount1") || !strings.Contains(cs, "AccountKey=") {
		t.Errorf("connection string %q", cs)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if a.cmd.ProcessState == nil {
		t.Error("Stop returned before the Azurite process was reaped")
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still answers after Stop", addr)
	}
}

func TestMissingAzuriteSaysHowToFix(t *testing.T) {
	_, err := StartAzurite(t.Context(), &AzuriteOptions{ToolsDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make tools") || !strings.Contains(err.Error(), EnvTestTables) {
		t.Errorf("StartAzurite without Azurite: %v; want the fix named", err)
	}
}

// fakeTB records Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
}

func TestTablesFailsRatherThanSkips(t *testing.T) {
	tests := []struct {
		name   string
		tables *Tables
		want   string
	}{
		{"start failed", &Tables{err: fmt.Errorf("azurite-table not found: run `make tools`")}, "make tools"},
		{"Run not called", &Tables{}, "TestMain"},
		{"ready", &Tables{conn: "AccountName=x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			got := tt.tables.ConnectionString(f)
			switch {
			case tt.want == "" && (f.fatal != "" || got != "AccountName=x"):
				t.Errorf("ConnectionString = %q, fatal %q", got, f.fatal)
			case tt.want != "" && !strings.Contains(f.fatal, tt.want):
				t.Errorf("ConnectionString failed with %q, want it to mention %q", f.fatal, tt.want)
			}
		})
	}
}
