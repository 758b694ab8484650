package sync_test

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/sync"
)

// TestApplyLogsEachOutcome applies three creates, one of which meets an
// account it may not adopt, and checks the log: a Warn line for the
// failure and, at Debug, one line for each change applied, each naming
// the action, the objects and the status.
func TestApplyLogsEachOutcome(t *testing.T) {
	for _, level := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel} {
		t.Run(level.String(), func(t *testing.T) {
			e := newEnv(t, 3, 0)
			pol := sync.DefaultPolicy()
			pol.Adopt = false
			core, logs := observer.New(level)
			eng := e.engine(sync.WithPolicy(pol), sync.WithLogger(zap.New(core)))
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			taken := e.dir.Users[0]
			if _, err := e.srv.AddUser(scim.User{UserName: taken.UserName, Active: scim.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			res, err := eng.Apply(ctx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 2 || res.Failed != 1 {
				t.Fatalf("%s; want 2 applied and 1 failed", res.SummaryLine())
			}
			failed := logs.FilterMessage("change failed").All()
			if len(failed) != 1 || failed[0].Level != zapcore.WarnLevel {
				t.Fatalf("%d Warn lines for the failed change, want 1: %v", len(failed), failed)
			}
			f := failed[0].ContextMap()
			if f["sourceId"] != taken.ID || f["status"] != string(sync.StatusFailed) ||
				f["action"] != string(sync.ActionCreateUser) || f["error"] == nil {
				t.Errorf("the failure's fields %v; want its source id %s, action, status and error", f, taken.ID)
			}
			applied := logs.FilterMessage("change applied").All()
			want := map[zapcore.Level]int{zapcore.DebugLevel: 2, zapcore.InfoLevel: 0}[level]
			if len(applied) != want {
				t.Fatalf("%d lines for applied changes at level %s, want %d", len(applied), level, want)
			}
			for _, l := range applied {
				m := l.ContextMap()
				if m["sourceId"] == taken.ID || m["sourceId"] == "" || m["targetId"] == "" ||
					m["status"] != string(sync.StatusApplied) || m["action"] != string(sync.ActionCreateUser) {
					t.Errorf("an applied change logged %v", m)
				}
			}
		})
	}
}
