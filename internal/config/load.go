package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest config document accepted, in bytes.
const MaxSize = 1 << 20

// AppSetting is the app setting that carries the config as JSON in Azure,
// the name ParseJSON's errors use for the document.
const AppSetting = "TENANTSYNC_CONFIG_JSON"

// Load reads, decodes and validates the config file at path (YAML, or JSON).
// Problems in the document are returned as Errors naming the file and line.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return parse(data, path)
}

// Parse decodes and validates a config document, YAML or JSON (JSON is read
// as the YAML it is, with JSON's escapes).
func Parse(data []byte) (*Config, error) { return parse(data, "") }

// ParseJSON decodes and validates the config as JSON, the form it takes in
// the app setting TENANTSYNC_CONFIG_JSON; the caller passes the setting's
// value. Anything but a JSON object is refused.
func ParseJSON(s string) (*Config, error) {
	data := []byte(s)
	if err := checkJSON(data); err != nil {
		for _, e := range err.(Errors) {
			e.File = AppSetting
		}
		return nil, err
	}
	return parse(data, AppSetting)
}

func parse(data []byte, file string) (*Config, error) {
	problem := func(line int, format string, args ...any) error {
		return Errors{{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxSize {
		return nil, problem(0, "the document is larger than %d bytes", MaxSize)
	}
	if looksLikeJSON(data) && json.Valid(data) {
		data = yamlSafeJSON(data)
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, problem(0, "the document is empty")
	case err != nil:
		line, msg := yamlErrorLine(err)
		return nil, problem(line, "invalid YAML: %s", msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, problem(extra.Line, "the file holds more than one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, problem(root.Line, "the document must be a mapping with the keys source and targets")
	}

	c := &Config{Source: DefaultTenant(), lines: map[string]int{}, file: file}
	d := &decoder{errorList: &errorList{lines: c.lines, file: file}}
	d.decode("", root, reflect.ValueOf(c).Elem())
	c.normalize()

	// Validate what was decoded, leaving out problems with a value that could
	// not be decoded, or around it: they would only echo the decoding error
	// (a misspelt key inside scope makes the scope look empty).
	var es Errors
	if err := c.Validate(); err != nil {
		errors.As(err, &es)
	}
	all := d.errs
	for _, e := range es {
		if !relatedToAny(e.Path, d.errs) {
			all = append(all, e)
		}
	}
	if len(all) > 0 {
		all.sortByLine()
		return nil, all
	}
	return c, nil
}

// relatedToAny reports whether path is the path of one of errs, or is inside
// it, or contains it.
func relatedToAny(path string, errs Errors) bool {
	within := func(inner, outer string) bool {
		return inner == outer || strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"[")
	}
	for _, e := range errs {
		if within(path, e.Path) || within(e.Path, path) {
			return true
		}
	}
	return false
}

// yamlLineError matches yaml.v3's "yaml: line 3: did not find expected key".
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErrorLine(err error) (int, string) {
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(err.Error(), "yaml: ")
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	return len(t) > 0 && t[0] == '{'
}

// checkJSON reports whether data is one valid JSON object, with the line of
// any syntax error. Its errors are Errors.
func checkJSON(data []byte) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return Errors{{Msg: "the document is empty"}}
	}
	var v any
	err := json.Unmarshal(t, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		offset := int(se.Offset) + bytes.Index(data, t)
		return Errors{{Line: 1 + bytes.Count(data[:min(offset, len(data))], []byte("\n")), Msg: "invalid JSON: " + se.Error()}}
	case err != nil:
		return Errors{{Msg: "invalid JSON: " + err.Error()}}
	}
	if _, ok := v.(map[string]any); !ok {
		return Errors{{Line: 1, Msg: "the document must be a JSON object with the keys source and targets"}}
	}
	return nil
}

// yamlSafeJSON rewrites the string literals of valid JSON so that yaml.v3
// reads them as JSON means them: yaml.v3 rejects JSON's \/ escape and
// surrogate pairs such as \ud83d\ude00. Each string is decoded and quoted
// again with Go's escapes, which YAML shares; nothing else changes, so lines
// stay where they were (a JSON string holds no raw newline).
func yamlSafeJSON(data []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(data))
	for i := 0; i < len(data); {
		if data[i] != '"' {
			out.WriteByte(data[i])
			i++
			continue
		}
		j := i + 1
		for j < len(data) && data[j] != '"' {
			if data[j] == '\\' {
				j++
			}
			j++
		}
		lit := data[i:min(j+1, len(data))]
		var s string
		if bytes.IndexByte(lit, '\\') < 0 || json.Unmarshal(lit, &s) != nil {
			out.Write(lit)
		} else {
			out.WriteString(strconv.Quote(s))
		}
		i = j + 1
	}
	return out.Bytes()
}
