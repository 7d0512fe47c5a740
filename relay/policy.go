package relay

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	ds "netspace/dataspace"
)

// Credential is one remote identity: a name for logs and counters, the
// token that proves it, and what it may do.
type Credential struct {
	Name  string
	Token string
	// Allow limits the credential; nil allows everything a remote client
	// can do at all.
	Allow *Policy
}

// Policy is an allow-list: the patterns a credential may observe and the
// records it may assert and send. Anything not allowed is refused.
//
// Rules are written as templates over records:
//
//	observe:tcp-channel(_, tcp-listener(8000..8099), _)
//	send:tcp-channel(tcp-listener(8000..8099), _, _)
//	assert:dns-server(_)
//
// A template is `_` (anything), an integer, a range `lo..hi`, a quoted
// string, `#t` or `#f`, an IP address, `own` (a string that starts with
// the session's handle prefix: handle ids no other client can use), or
// label(template, …). An observed pattern is allowed when it is at least
// as specific as a rule: where the rule has `_` the pattern may have
// anything, where the rule has a value or range the pattern must have a
// literal there that fits (a capture or wildcard there would reach other
// credentials' ports or handles). Shorthands expand to the rules a use
// needs:
//
//	tcp-listen:P | tcp-listen:LO..HI   serve TCP on these ports
//	tcp-connect                          open TCP connections (handles "own")
//	udp-listen:P | udp-listen:LO..HI   serve UDP on these ports
//	udp-connect                          send and receive UDP on own handles
//	dns                                  resolve names (observe dns-answer)
//	all                                  everything
type Policy struct {
	all   bool
	rules []rule
}

type verb uint8

const (
	vObserve verb = iota
	vAssert
	vSend
)

type rule struct {
	verb verb
	t    *tmpl
}

type tmplKind uint8

const (
	tAny tmplKind = iota
	tInt
	tRange
	tString
	tBool
	tAddr
	tOwn
	tRec
)

type tmpl struct {
	kind   tmplKind
	lo, hi int64
	s      string
	b      bool
	a      netip.Addr
	label  *ds.Label
	fields []*tmpl
}

// ParsePolicy parses permissions (shorthands and verb:template rules, as
// in a credentials file line).
func ParsePolicy(perms []string) (*Policy, error) {
	p := &Policy{}
	for _, perm := range perms {
		if err := p.add(perm); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Policy) rule(v verb, text string) error {
	t, err := parseTmpl(text)
	if err != nil {
		return err
	}
	p.rules = append(p.rules, rule{v, t})
	return nil
}

func (p *Policy) add(perm string) error {
	word, arg, _ := strings.Cut(perm, ":")
	rules := func(v verb, texts ...string) error {
		for _, s := range texts {
			if err := p.rule(v, strings.ReplaceAll(s, "R", arg)); err != nil {
				return err
			}
		}
		return nil
	}
	switch word {
	case "all":
		p.all = true
		return nil
	case "observe":
		return p.rule(vObserve, arg)
	case "assert":
		return p.rule(vAssert, arg)
	case "send":
		return p.rule(vSend, arg)
	case "tcp-listen":
		if _, err := parsePorts(arg); err != nil {
			return fmt.Errorf("%s: %w", perm, err)
		}
		if err := rules(vObserve, "tcp-channel(_, tcp-listener(R), _)", "tcp-connection(_, tcp-listener(R), _)",
			"tcp-writable(_, tcp-listener(R), _)", "tcp-listening(R)"); err != nil {
			return err
		}
		return rules(vSend, "tcp-channel(tcp-listener(R), _, _)", "tcp-consumed(_, tcp-listener(R), _)",
			"tcp-close(_, tcp-listener(R), _)", "tcp-set(_, tcp-listener(R), _, _)")
	case "tcp-connect":
		if err := rules(vObserve, "tcp-channel(tcp-address(_, _), tcp-handle(own), _)",
			"tcp-connection(_, tcp-handle(own), _)", "tcp-writable(_, tcp-handle(own), _)"); err != nil {
			return err
		}
		return rules(vSend, "tcp-channel(tcp-handle(own), _, _)", "tcp-consumed(_, tcp-handle(own), _)",
			"tcp-close(_, tcp-handle(own), _)", "tcp-set(_, tcp-handle(own), _, _)")
	case "udp-listen":
		if _, err := parsePorts(arg); err != nil {
			return fmt.Errorf("%s: %w", perm, err)
		}
		if err := rules(vObserve, "udp-channel(_, udp-listener(R), _)"); err != nil {
			return err
		}
		return rules(vSend, "udp-channel(udp-listener(R), _, _)")
	case "udp-connect":
		if err := rules(vObserve, "udp-channel(_, udp-handle(own), _)", "udp-binding(_, own)"); err != nil {
			return err
		}
		return rules(vSend, "udp-channel(udp-handle(own), _, _)")
	case "dns":
		return rules(vObserve, "dns-answer(_, _, _)")
	}
	return fmt.Errorf("unknown permission %q", perm)
}

func parsePorts(s string) (*tmpl, error) {
	t, err := parseTmpl(s)
	if err != nil {
		return nil, err
	}
	if (t.kind != tInt && t.kind != tRange) || t.lo < 0 || t.hi > 65535 {
		return nil, fmt.Errorf("want a port or a range of ports, not %q", s)
	}
	return t, nil
}

// parseTmpl parses one template.
func parseTmpl(s string) (*tmpl, error) {
	t, rest, err := parseOne(strings.TrimSpace(s), 0)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	if strings.TrimSpace(rest) != "" {
		return nil, fmt.Errorf("template %q: unexpected %q", s, rest)
	}
	return t, nil
}

func parseOne(s string, depth int) (*tmpl, string, error) {
	if depth > 16 {
		return nil, s, fmt.Errorf("nested too deeply")
	}
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, s, err
		}
		v, _ := strconv.Unquote(q)
		return &tmpl{kind: tString, s: v}, s[len(q):], nil
	}
	end := strings.IndexAny(s, "(), \t")
	if end < 0 {
		end = len(s)
	}
	word, rest := s[:end], s[end:]
	if word == "" {
		return nil, s, fmt.Errorf("missing template at %q", s)
	}
	if strings.HasPrefix(rest, "(") {
		l := ds.LookupLabel(word)
		if l == nil {
			return nil, s, fmt.Errorf("unknown label %q", word)
		}
		t := &tmpl{kind: tRec, label: l}
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasPrefix(rest, ")") {
				rest = rest[1:]
				break
			}
			if len(t.fields) > 0 {
				if !strings.HasPrefix(rest, ",") {
					return nil, rest, fmt.Errorf("want , or ) at %q", rest)
				}
				rest = rest[1:]
			}
			f, r, err := parseOne(rest, depth+1)
			if err != nil {
				return nil, r, err
			}
			t.fields, rest = append(t.fields, f), r
		}
		if len(l.Fields) > 0 && len(t.fields) != len(l.Fields) {
			return nil, rest, fmt.Errorf("%s has %d fields, not %d", l.Name, len(l.Fields), len(t.fields))
		}
		return t, rest, nil
	}
	switch word {
	case "_":
		return &tmpl{kind: tAny}, rest, nil
	case "own":
		return &tmpl{kind: tOwn}, rest, nil
	case "#t", "#f":
		return &tmpl{kind: tBool, b: word == "#t"}, rest, nil
	}
	if lo, hi, ok := strings.Cut(word, ".."); ok {
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || a > b {
			return nil, rest, fmt.Errorf("bad range %q", word)
		}
		return &tmpl{kind: tRange, lo: a, hi: b}, rest, nil
	}
	if n, err := strconv.ParseInt(word, 10, 64); err == nil {
		return &tmpl{kind: tInt, lo: n, hi: n}, rest, nil
	}
	if a, err := netip.ParseAddr(word); err == nil {
		return &tmpl{kind: tAddr, a: a}, rest, nil
	}
	return nil, rest, fmt.Errorf("bad template %q", word)
}

// matchValue reports whether the value v fits t.
func (t *tmpl) matchValue(v ds.Value, own string) bool {
	switch t.kind {
	case tAny:
		return true
	case tInt, tRange:
		return v.Kind() == ds.KindInt && v.AsInt() >= t.lo && v.AsInt() <= t.hi
	case tString:
		return v.Kind() == ds.KindString && v.AsString() == t.s
	case tBool:
		return v.Kind() == ds.KindBool && v.AsBool() == t.b
	case tAddr:
		return v.Kind() == ds.KindAddr && v.AsAddr() == t.a
	case tOwn:
		return own != "" && v.Kind() == ds.KindString && strings.HasPrefix(v.AsString(), own)
	case tRec:
		r := v.AsRecord()
		if r == nil || r.Label() != t.label || r.Arity() != len(t.fields) {
			return false
		}
		for i, f := range t.fields {
			if !f.matchValue(r.Field(i), own) {
				return false
			}
		}
		return true
	}
	return false
}

// The labels of the pattern forms, as package dataspace declares them.
var (
	labelBind = ds.LookupLabel("bind")
	labelLit  = ds.LookupLabel("lit")
)

// matchPattern reports whether the observed pattern p is at least as
// specific as t.
func (t *tmpl) matchPattern(p *ds.Pattern, own string) bool {
	if t.kind == tAny {
		return true
	}
	if p == nil || p == ds.Captured {
		return false
	}
	if l := p.RecordLabel(); l != nil {
		if t.kind != tRec || l != t.label || p.Arity()-1 != len(t.fields) {
			return false
		}
		for i, f := range t.fields {
			sub, _ := p.Field(i + 1).AsRecord().(*ds.Pattern)
			if !f.matchPattern(sub, own) {
				return false
			}
		}
		return true
	}
	switch p.Label() {
	case labelBind:
		sub, _ := p.Field(0).AsRecord().(*ds.Pattern)
		return t.matchPattern(sub, own)
	case labelLit:
		return t.matchValue(p.Field(0), own)
	}
	return false // a wildcard where t wants something specific
}

func (p *Policy) allows(v verb, check func(*tmpl) bool) bool {
	if p == nil || p.all {
		return true
	}
	for _, r := range p.rules {
		if r.verb == v && check(r.t) {
			return true
		}
	}
	return false
}

// AllowObserve reports whether the policy lets a session whose handle
// prefix is own observe pat.
func (p *Policy) AllowObserve(pat *ds.Pattern, own string) bool {
	return p.allows(vObserve, func(t *tmpl) bool { return t.matchPattern(pat, own) })
}

// AllowAssert reports whether the policy lets the session assert r.
func (p *Policy) AllowAssert(r ds.Record, own string) bool {
	return p.allows(vAssert, func(t *tmpl) bool { return t.matchValue(ds.Rec(r), own) })
}

// AllowSend reports whether the policy lets the session send r.
func (p *Policy) AllowSend(r ds.Record, own string) bool {
	return p.allows(vSend, func(t *tmpl) bool { return t.matchValue(ds.Rec(r), own) })
}

// ParseCredentials reads a credentials file: one credential per line,
//
//	NAME TOKEN [PERMISSION ...]
//
// with permissions as [Policy] describes them (none: the credential may
// do nothing but connect). Blank lines and lines starting with # are
// skipped. Templates may contain spaces inside parentheses.
func ParseCredentials(r io.Reader) ([]Credential, error) {
	var out []Credential
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", ln, err)
		}
		if len(words) < 2 {
			return nil, fmt.Errorf("line %d: want NAME TOKEN [PERMISSION ...]", ln)
		}
		if names[words[0]] {
			return nil, fmt.Errorf("line %d: credential %q twice", ln, words[0])
		}
		names[words[0]] = true
		if len(words[1]) < 16 {
			return nil, fmt.Errorf("line %d: token shorter than 16 characters", ln)
		}
		pol, err := ParsePolicy(words[2:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", ln, err)
		}
		out = append(out, Credential{Name: words[0], Token: words[1], Allow: pol})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no credentials")
	}
	return out, nil
}

// splitWords splits at blanks outside parentheses and quotes.
func splitWords(s string) ([]string, error) {
	var out []string
	depth, quoted, start := 0, false, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
			continue
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case (c == ' ' || c == '\t') && depth == 0:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 || quoted {
		return nil, fmt.Errorf("unbalanced parentheses or quotes")
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out, nil
}
