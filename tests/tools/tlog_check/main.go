// tlog_check: checks a custos log with Go's reference implementations
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), none of
// custos's own code: the signed checkpoint opens with the verifier key, the
// leaves (or, for a redacted entry, its leaf hash) give the checkpoint's
// size and root, every inclusion proof checks, and every leaf's "prev" is
// the leaf hash of the entry before it (docs/formats/audit-log.md,
// "Redaction").
//
// Usage: tlog_check DIR, where DIR holds
//   entries.jsonl  one /v1/log/entries object per line, index ascending:
//                  {"index":n,"leaf":"<base64>",…} or
//                  {"index":n,"redacted":true,"leafHash":"<base64>"}
//   checkpoint     the signed checkpoint note (GET /v1/log/checkpoint)
//   key            the verifier key line (GET /v1/log/key)
// Prints "ok N entries, R redacted" and exits 0, or names the first fault
// and exits 1.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type entry struct {
	Index    int64  `json:"index"`
	Leaf     string `json:"leaf"`
	Redacted bool   `json:"redacted"`
	LeafHash string `json:"leafHash"`
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func read(dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		fail("%v", err)
	}
	return b
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: tlog_check DIR")
	}
	dir := os.Args[1]

	// 1. The checkpoint: a signed note whose text is origin, size, root.
	verifier, err := note.NewVerifier(strings.TrimSpace(string(read(dir, "key"))))
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(read(dir, "checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 {
		fail("checkpoint text has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	// 2. The leaves: each one's hash (a redacted entry's stored hash), the
	//    chain of "prev", and the stored hashes of the tree.
	f, err := os.Open(filepath.Join(dir, "entries.jsonl"))
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	var leafHashes []tlog.Hash
	redacted := 0
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		var e entry
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			fail("entries.jsonl line %d: %v", len(leafHashes)+1, err)
		}
		i := int64(len(leafHashes))
		if e.Index != i {
			fail("entry %d comes where %d belongs", e.Index, i)
		}
		var h tlog.Hash
		if e.Redacted {
			b, err := base64.StdEncoding.DecodeString(e.LeafHash)
			if err != nil || len(b) != tlog.HashSize || e.Leaf != "" {
				fail("entry %d: a redacted entry needs a 32-byte leafHash and no leaf", i)
			}
			copy(h[:], b)
			redacted++
		} else {
			leaf, err := base64.StdEncoding.DecodeString(e.Leaf)
			if err != nil {
				fail("entry %d: leaf is not base64", i)
			}
			h = tlog.RecordHash(leaf)
			var body struct {
				Prev *string `json:"prev"`
				Seq  *int64  `json:"seq"`
			}
			if err := json.Unmarshal(leaf, &body); err != nil || body.Prev == nil || body.Seq == nil {
				fail("entry %d: leaf has no prev or seq", i)
			}
			want := ""
			if i > 0 {
				want = base64.StdEncoding.EncodeToString(leafHashes[i-1][:])
			}
			if *body.Prev != want || *body.Seq != i {
				fail("entry %d: prev or seq does not chain to entry %d", i, i-1)
			}
		}
		hashes, err := tlog.StoredHashesForRecordHash(i, h, reader)
		if err != nil {
			fail("entry %d: %v", i, err)
		}
		stored = append(stored, hashes...)
		leafHashes = append(leafHashes, h)
	}
	if err := scanner.Err(); err != nil {
		fail("entries.jsonl: %v", err)
	}

	// 3. The tree of the checkpoint's size, and every entry's inclusion.
	if int64(len(leafHashes)) < size {
		fail("%d entries, the checkpoint covers %d", len(leafHashes), size)
	}
	th, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("tree hash: %v", err)
	}
	if th != root {
		fail("the entries give root %v for size %d, the checkpoint signs %v", th, size, root)
	}
	for i := int64(0); i < size; i++ {
		p, err := tlog.ProveRecord(size, i, reader)
		if err != nil {
			fail("proof of %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, root, i, leafHashes[i]); err != nil {
			fail("inclusion of %d: %v", i, err)
		}
	}
	fmt.Printf("ok %d entries, %d redacted\n", size, redacted)
}
