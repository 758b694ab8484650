package source_test

import (
	"reflect"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/source"
)

// Log fields carry ids and counts, never names or addresses.
func TestMarshalLogObject(t *testing.T) {
	u := testUser()
	g := &source.Group{ID: "g-1", DisplayName: "Secret Project", Members: []string{"u-1", "u-2"}, MemberGroups: []string{"g-2"}}
	d := &source.Directory{Users: []source.User{*u}, Groups: []source.Group{*g}}
	tests := []struct {
		obj  zapcore.ObjectMarshaler
		want map[string]any
	}{
		{u, map[string]any{"id": "u-1", "state": "suspended"}},
		{g, map[string]any{"id": "g-1", "members": 2, "memberGroups": 1}},
		{d, map[string]any{"users": 1, "groups": 1}},
	}
	for _, tt := range tests {
		enc := zapcore.NewMapObjectEncoder()
		if err := tt.obj.MarshalLogObject(enc); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(enc.Fields, tt.want) {
			t.Errorf("MarshalLogObject = %v, want %v", enc.Fields, tt.want)
		}
	}
}
