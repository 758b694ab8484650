package file_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/source/synth"
)

// compared are the attributes the file keeps exactly; all of them.
var (
	userAttrs = []string{synth.AttrDepartment, synth.AttrJobTitle, synth.AttrEmployeeID, synth.AttrEmployeeType,
		synth.AttrManagerID, synth.AttrOfficeLocation, synth.AttrCountry, synth.AttrPreferredLanguage,
		synth.AttrCostCenter, synth.AttrHireDate, synth.AttrMFAEnrolled, synth.AttrLicenses, synth.AttrLevel,
		"deletedAt", "emails"}
	groupAttrs = []string{"email", "description", synth.AttrGroupType}
)

// fileHarness serves the directory as a file in an fs.FS that can fail a
// read halfway through the file.
type fileHarness struct {
	format file.Format
	name   string
	fsys   *flakyFS
}

func (h *fileHarness) Open(_ context.Context, t *testing.T, want *source.Directory) (source.Source, error) {
	h.fsys = &flakyFS{name: h.name}
	if err := h.fsys.set(want, h.format); err != nil {
		return nil, err
	}
	return file.New(h.name, file.WithFS(h.fsys)), nil
}

func (h *fileHarness) Update(_ context.Context, _ *testing.T, want *source.Directory) error {
	return h.fsys.set(want, h.format)
}

func (h *fileHarness) FailNext(*testing.T) error {
	h.fsys.mu.Lock()
	h.fsys.failNext = true
	h.fsys.mu.Unlock()
	return nil
}

// flakyFS is an fs.FS with one file.
type flakyFS struct {
	name     string
	mu       sync.Mutex
	data     []byte
	failNext bool
}

func (f *flakyFS) set(dir *source.Directory, format file.Format) error {
	var b bytes.Buffer
	if err := file.Write(&b, dir, format); err != nil {
		return err
	}
	f.mu.Lock()
	f.data = b.Bytes()
	f.mu.Unlock()
	return nil
}

func (f *flakyFS) Open(name string) (fs.File, error) {
	if name != f.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var r io.Reader = bytes.NewReader(f.data)
	if f.failNext {
		f.failNext = false
		r = io.MultiReader(bytes.NewReader(f.data[:len(f.data)/2]), errReader{})
	}
	return &memFile{r: r, name: name, size: int64(len(f.data))}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

type memFile struct {
	r    io.Reader
	name string
	size int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return memInfo{m}, nil }
func (m *memFile) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memFile) Close() error               { return nil }

type memInfo struct{ f *memFile }

func (i memInfo) Name() string       { return i.f.name }
func (i memInfo) Size() int64        { return i.f.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// memoryHarness runs the suite over FromDirectory and Set.
type memoryHarness struct{ src *file.Source }

func (h *memoryHarness) Open(_ context.Context, _ *testing.T, want *source.Directory) (source.Source, error) {
	h.src = file.FromDirectory(want)
	return h.src, nil
}

func (h *memoryHarness) Update(_ context.Context, _ *testing.T, want *source.Directory) error {
	h.src.Set(want)
	return nil
}

func (h *memoryHarness) FailNext(*testing.T) error { return sourcetest.ErrNotSupported }

func TestConformance(t *testing.T) {
	opts := []sourcetest.Option{sourcetest.WithUserAttributes(userAttrs...), sourcetest.WithGroupAttributes(groupAttrs...)}
	t.Run("YAML", func(t *testing.T) {
		sourcetest.Run(t, &fileHarness{format: file.FormatYAML, name: "dir.yaml"}, opts...)
	})
	t.Run("JSON", func(t *testing.T) {
		sourcetest.Run(t, &fileHarness{format: file.FormatJSON, name: "fixtures/dir.json"}, opts...)
	})
	t.Run("Memory", func(t *testing.T) {
		sourcetest.Run(t, &memoryHarness{}, opts...)
	})
}
