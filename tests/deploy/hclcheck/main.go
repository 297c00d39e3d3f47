// hclcheck parses Terraform files with HashiCorp's own HCL parser
// (github.com/hashicorp/hcl/v2, Debian package golang-github-hashicorp-hcl-v2-dev)
// and prints one JSON document: for every file, its blocks, each with type,
// labels, attributes (name -> the expression's source text) and nested blocks.
// tests/deploy/test_terraform.py compares this with its own reading of the
// files and checks the IAM policy on it. Exit status 1, with the parser's
// diagnostics on stderr, when a file does not parse.
//
// Built offline in GOPATH mode against Debian's Go sources:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/deploy/hclcheck/main.go FILE.tf...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

type block struct {
	Type       string            `json:"type"`
	Labels     []string          `json:"labels"`
	Attributes map[string]string `json:"attributes"`
	Blocks     []block           `json:"blocks"`
}

func convert(src []byte, body *hclsyntax.Body) (map[string]string, []block) {
	attrs := map[string]string{}
	for name, attr := range body.Attributes {
		r := attr.Expr.Range()
		attrs[name] = string(src[r.Start.Byte:r.End.Byte])
	}
	blocks := []block{}
	for _, b := range body.Blocks {
		labels := b.Labels
		if labels == nil {
			labels = []string{}
		}
		a, nested := convert(src, b.Body)
		blocks = append(blocks, block{Type: b.Type, Labels: labels, Attributes: a, Blocks: nested})
	}
	return attrs, blocks
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hclcheck FILE.tf...")
		os.Exit(2)
	}
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	out := map[string]interface{}{}
	paths := append([]string(nil), os.Args[1:]...)
	sort.Strings(paths)
	for _, path := range paths {
		f, d := parser.ParseHCLFile(path)
		diags = append(diags, d...)
		if d.HasErrors() || f == nil {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: not HCL native syntax\n", path)
			os.Exit(1)
		}
		attrs, blocks := convert(f.Bytes, body)
		out[path] = map[string]interface{}{"attributes": attrs, "blocks": blocks}
	}
	if diags.HasErrors() {
		wr := hcl.NewDiagnosticTextWriter(os.Stderr, parser.Files(), 100, false)
		_ = wr.WriteDiagnostics(diags)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
