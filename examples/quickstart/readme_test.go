package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeOutput keeps the quickstart's output in the README true to the
// program: the README's block must match a stretch of the output line for
// line, where a line that is only "..." stands for any number of lines,
// "..." inside a line for any text, and durations are not compared.
func TestReadmeOutput(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := readmeBlock(string(readme), "== Pass 1")
	if block == nil {
		t.Fatal("README.md has no code block starting with \"== Pass 1\"")
	}
	var out strings.Builder
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out.String())
	}
	got := screenLines(out.String())
	for start := range got {
		if matchLines(block, got[start:]) {
			return
		}
	}
	t.Errorf("README.md's quickstart output does not match the program's.\nREADME:\n%s\n\nprogram:\n%s",
		strings.Join(block, "\n"), strings.Join(got, "\n"))
}

// readmeBlock returns the lines of the first fenced code block in md whose
// first line starts with first.
func readmeBlock(md, first string) []string {
	var block []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, block = true, []string{}
		case in && strings.HasPrefix(line, "```"):
			if len(block) > 0 && strings.HasPrefix(block[0], first) {
				return block
			}
			in = false
		case in:
			block = append(block, line)
		}
	}
	return nil
}

// screenLines splits the output as a terminal shows it: of a line redrawn
// with carriage returns (the progress bar), the last drawing stays.
func screenLines(s string) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if j := strings.LastIndex(l, "\r"); j >= 0 {
			lines[i] = l[j+1:]
		}
	}
	return lines
}

var duration = regexp.MustCompile(`(\d+(\.\d+)?(ns|µs|us|ms|s|m|h))+\b`)

// matchLines reports whether want matches the beginning of got.
func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return true
	}
	if strings.TrimSpace(want[0]) == "..." {
		for skip := 0; skip <= len(got); skip++ {
			if matchLines(want[1:], got[skip:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && matchLine(want[0], got[0]) && matchLines(want[1:], got[1:])
}

// matchLine compares one line, "..." in want matching any text.
func matchLine(want, got string) bool {
	norm := func(s string) string { return duration.ReplaceAllString(strings.TrimRight(s, " "), "T") }
	parts := strings.Split(norm(want), "...")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(norm(got))
}
