package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The store speaks one SQL: SQLite's, as the migrations and the queries in
// this package are written. On PostgreSQL every statement passes through
// toPostgres first, a small and explicit translation of the few SQLite
// forms the store uses (docs/ARCHITECTURE.md, "One schema, two
// dialects"). Anything SQLite-only that it does not translate is refused
// with an error naming the construct and the line, rather than handed to
// PostgreSQL to fail obscurely or, worse, to mean something else.

// errUntranslatable marks SQLite SQL that toPostgres refuses.
var errUntranslatable = errors.New("has no PostgreSQL translation")

// sqliteOnlyFuncs are SQLite functions that PostgreSQL lacks (or has
// with another meaning) and toPostgres does not translate, with what to
// write instead. They are refused when called: name(.
var sqliteOnlyFuncs = map[string]string{
	"typeof":            "PostgreSQL's pg_typeof names types differently",
	"json_extract":      "PostgreSQL has ->> on a jsonb cast",
	"json_each":         "PostgreSQL has jsonb_array_elements",
	"json_type":         "PostgreSQL has jsonb_typeof",
	"json_array_length": "PostgreSQL has jsonb_array_length",
	"json_object":       "PostgreSQL has json_build_object",
	"json_array":        "PostgreSQL has json_build_array",
	"json":              "PostgreSQL has no equivalent",
	"datetime":          "times are INTEGER unix seconds: pass them as parameters",
	"date":              "times are INTEGER unix seconds: pass them as parameters",
	"strftime":          "times are INTEGER unix seconds: pass them as parameters",
	"julianday":         "times are INTEGER unix seconds: pass them as parameters",
	"iif":               "use CASE WHEN",
	"group_concat":      "PostgreSQL has string_agg",
	"last_insert_rowid": "use INSERT ... RETURNING id",
	"changes":           "use the statement's RowsAffected",
	"total_changes":     "use the statement's RowsAffected",
	"randomblob":        "generate random values in Go",
	"zeroblob":          "pass the value as a parameter",
	"hex":               "PostgreSQL has encode(x, 'hex')",
	"instr":             "PostgreSQL has strpos",
	"printf":            "format the value in Go",
}

// sqliteOnlyWords are SQLite statements, operators and pseudo-columns that
// toPostgres refuses wherever they appear.
var sqliteOnlyWords = map[string]string{
	"pragma":  "PostgreSQL has no PRAGMAs",
	"glob":    "use LIKE",
	"rowid":   "use the table's id column",
	"_rowid_": "use the table's id column",
	"vacuum":  "PostgreSQL has no equivalent",
	"reindex": "PostgreSQL has no equivalent",
	"attach":  "PostgreSQL has no equivalent",
	"detach":  "PostgreSQL has no equivalent",
}

// sqlTok is one lexical token of an SQL text.
type sqlTok struct {
	kind tokKind
	text string
	line int // 1-based line of the token's start
}

type tokKind int

const (
	tokSpace   tokKind = iota // whitespace
	tokComment                // -- to the end of the line, or /* ... */
	tokString                 // '...' with '' inside
	tokQuoted                 // "identifier"
	tokWord                   // keyword, identifier or number
	tokParam                  // ? or ?NNN
	tokPunct                  // any other single character
)

// lexSQL splits s into tokens; their texts concatenated give s back.
func lexSQL(s string) ([]sqlTok, error) {
	var toks []sqlTok
	line := 1
	for i := 0; i < len(s); {
		start, kind := i, tokPunct
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			kind = tokSpace
			for i < len(s) && strings.IndexByte(" \t\n\r", s[i]) >= 0 {
				i++
			}
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			kind = tokComment
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(s)
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			kind = tokComment
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			i += 2 + j + 2
		case c == '\'' || c == '"':
			kind = tokString
			if c == '"' {
				kind = tokQuoted
			}
			i++
			for {
				j := strings.IndexByte(s[i:], c)
				if j < 0 {
					return nil, fmt.Errorf("line %d: unterminated %c", line, c)
				}
				i += j + 1
				if i < len(s) && s[i] == c { // doubled quote inside
					i++
					continue
				}
				break
			}
		case c == '?':
			kind = tokParam
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		case isWordByte(c):
			kind = tokWord
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
		default:
			i++
		}
		toks = append(toks, sqlTok{kind: kind, text: s[start:i], line: line})
		line += strings.Count(s[start:i], "\n")
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// pgShims are what a translated migration gets in front when it uses them:
// PostgreSQL versions of the SQLite features the schema relies on.
const (
	// citext is a case-insensitive text type: COLLATE NOCASE columns
	// become citext, so "name = ?" still matches in any letter case, as it
	// does in SQLite. It is a trusted extension (PostgreSQL 13+): the
	// database's owner may create it.
	pgShimCitext = "CREATE EXTENSION IF NOT EXISTS citext;\n"
	// json_valid as SQLite has it: NULL for NULL, else whether t parses.
	pgShimJSONValid = `CREATE OR REPLACE FUNCTION json_valid(t text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT AS $wgfleet$
BEGIN
    PERFORM t::json;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$wgfleet$;
`
)

// pgTranslation is the PostgreSQL text of one SQLite text, with the shims
// it needs.
type pgTranslation struct {
	sql            string
	needsCitext    bool
	needsJSONValid bool
}

// toPostgres translates SQLite SQL (one or more statements) into
// PostgreSQL's. The rules, all of them:
//
//   - INTEGER PRIMARY KEY [AUTOINCREMENT] becomes BIGINT GENERATED BY
//     DEFAULT AS IDENTITY PRIMARY KEY: ids from a sequence, never reused
//     (as AUTOINCREMENT); an explicit id may still be inserted (migrate-db).
//   - INTEGER becomes BIGINT (SQLite's integers are 64-bit), REAL DOUBLE
//     PRECISION, BLOB BYTEA.
//   - A column's TEXT ... COLLATE NOCASE becomes CITEXT (shim: the citext
//     extension); COLLATE NOCASE anywhere else is refused.
//   - The table options STRICT and WITHOUT ROWID are dropped.
//   - json_valid(x) is kept (shim: a function of that name); ifnull
//     becomes coalesce, two-argument max/min greatest/least, unixepoch()
//     extract(epoch FROM now()), LIKE ILIKE (SQLite's LIKE ignores case),
//     == =.
//   - INSERT OR IGNORE becomes INSERT ... ON CONFLICT DO NOTHING.
//   - Parameters ? and ?NNN become $N, numbered as SQLite numbers them.
//   - Words in sqliteOnly are refused, with a hint.
func toPostgres(src string) (pgTranslation, error) {
	toks, err := lexSQL(src)
	if err != nil {
		return pgTranslation{}, err
	}
	var out pgTranslation
	var b strings.Builder
	for len(toks) > 0 {
		n := len(toks)
		for i, t := range toks {
			if t.kind == tokPunct && t.text == ";" {
				n = i + 1
				break
			}
		}
		if err := translateStatement(toks[:n], &out); err != nil {
			return pgTranslation{}, err
		}
		for _, t := range toks[:n] {
			b.WriteString(t.text)
		}
		toks = toks[n:]
	}
	out.sql = b.String()
	return out, nil
}

// stmt is one statement's tokens under translation, with the indexes of
// the significant ones (neither space nor comment).
type stmt struct {
	toks []sqlTok
	sig  []int
	// params numbers the ? parameters: the highest number given so far.
	params int
}

// word is the lower-case text of significant token k when it is a word,
// else "".
func (s *stmt) word(k int) string {
	if k < 0 || k >= len(s.sig) || s.toks[s.sig[k]].kind != tokWord {
		return ""
	}
	return strings.ToLower(s.toks[s.sig[k]].text)
}

// punct reports whether significant token k is the punctuation p.
func (s *stmt) punct(k int, p string) bool {
	return k >= 0 && k < len(s.sig) && s.toks[s.sig[k]].kind == tokPunct && s.toks[s.sig[k]].text == p
}

func (s *stmt) set(k int, text string) { s.toks[s.sig[k]].text = text }

// drop removes significant token k and the space before it.
func (s *stmt) drop(k int) {
	i := s.sig[k]
	s.toks[i].text = ""
	if i > 0 && s.toks[i-1].kind == tokSpace {
		s.toks[i-1].text = ""
	}
}

// fail reports an error at significant token k; format may wrap with %w.
func (s *stmt) fail(k int, format string, args ...any) error {
	return fmt.Errorf("line %d: %w", s.toks[s.sig[k]].line, fmt.Errorf(format, args...))
}

func translateStatement(toks []sqlTok, out *pgTranslation) error {
	s := &stmt{toks: toks}
	for i, t := range toks {
		if t.kind != tokSpace && t.kind != tokComment {
			s.sig = append(s.sig, i)
		}
	}
	insertOrIgnore := false
	for k := 0; k < len(s.sig); k++ {
		t := &s.toks[s.sig[k]]
		if t.kind == tokParam {
			if err := s.param(k); err != nil {
				return err
			}
			continue
		}
		if s.punct(k, "=") && s.punct(k+1, "=") && s.sig[k+1] == s.sig[k]+1 {
			s.drop(k + 1)
			k++
			continue
		}
		w := s.word(k)
		if w == "" {
			continue
		}
		switch w {
		case "integer":
			if s.word(k+1) == "primary" && s.word(k+2) == "key" {
				s.set(k, "BIGINT GENERATED BY DEFAULT AS IDENTITY")
				if s.word(k+3) == "autoincrement" {
					s.drop(k + 3)
				}
				k += 3
				continue
			}
			s.set(k, "BIGINT")
		case "autoincrement":
			return s.fail(k, "AUTOINCREMENT %w outside INTEGER PRIMARY KEY", errUntranslatable)
		case "real":
			s.set(k, "DOUBLE PRECISION")
		case "blob":
			s.set(k, "BYTEA")
		case "strict":
			if s.punct(k-1, ")") || s.punct(k-1, ",") {
				s.drop(k)
				if s.punct(k-1, ",") {
					s.drop(k - 1)
				}
				continue
			}
		case "without":
			if s.word(k+1) == "rowid" && (s.punct(k-1, ")") || s.punct(k-1, ",")) {
				s.drop(k)
				s.drop(k + 1)
				if s.punct(k-1, ",") {
					s.drop(k - 1)
				}
				k++
				continue
			}
		case "collate":
			if s.word(k+1) != "nocase" {
				return s.fail(k, "COLLATE %s %w", s.toks[s.sig[k+1]].text, errUntranslatable)
			}
			if err := s.citext(k); err != nil {
				return err
			}
			s.drop(k)
			s.drop(k + 1)
			out.needsCitext = true
			k++
			continue
		case "json_valid":
			out.needsJSONValid = true
		case "ifnull":
			s.set(k, "coalesce")
		case "max", "min":
			if s.punct(k+1, "(") && s.hasTopLevelComma(k+1) {
				s.set(k, map[string]string{"max": "greatest", "min": "least"}[w])
			}
		case "unixepoch":
			if s.punct(k+1, "(") && s.punct(k+2, ")") {
				s.set(k, "CAST(extract(epoch FROM now()) AS BIGINT)")
				s.drop(k + 1)
				s.drop(k + 2)
				k += 2
				continue
			}
			return s.fail(k, "unixepoch with arguments %w", errUntranslatable)
		case "like":
			s.set(k, "ILIKE")
		case "insert":
			if s.word(k+1) == "or" {
				if s.word(k+2) != "ignore" {
					return s.fail(k, "INSERT OR %s %w (use INSERT ... ON CONFLICT)", strings.ToUpper(s.word(k+2)), errUntranslatable)
				}
				s.drop(k + 1)
				s.drop(k + 2)
				insertOrIgnore = true
				k += 2
				continue
			}
		case "replace":
			if s.word(k+1) == "into" {
				return s.fail(k, "REPLACE INTO %w (use INSERT ... ON CONFLICT (...) DO UPDATE)", errUntranslatable)
			}
		case "temp", "main":
			if s.punct(k+1, ".") {
				return s.fail(k, "the schema name %s. %w", t.text, errUntranslatable)
			}
		}
		if strings.HasPrefix(w, "sqlite_") {
			return s.fail(k, "SQLite's internal table %s %w", t.text, errUntranslatable)
		}
		if s.punct(k-1, ".") {
			continue // a column of a table, not a function
		}
		if hint, ok := sqliteOnlyWords[w]; ok {
			return s.fail(k, "SQLite's %s %w: %s", strings.ToUpper(w), errUntranslatable, hint)
		}
		if hint, ok := sqliteOnlyFuncs[w]; ok && s.punct(k+1, "(") {
			return s.fail(k, "SQLite's function %s %w: %s", w, errUntranslatable, hint)
		}
	}
	if insertOrIgnore {
		s.onConflictDoNothing()
	}
	return nil
}

// param renumbers a ? or ?NNN parameter as $N: a bare ? takes the number
// after the highest given so far, as in SQLite.
func (s *stmt) param(k int) error {
	t := &s.toks[s.sig[k]]
	n := s.params + 1
	if len(t.text) > 1 {
		v, err := strconv.Atoi(t.text[1:])
		if err != nil || v < 1 || v > 32766 {
			return s.fail(k, "parameter %s is out of range", t.text)
		}
		n = v
	}
	s.params = max(s.params, n)
	t.text = "$" + strconv.Itoa(n)
	return nil
}

// hasTopLevelComma reports whether the parentheses opened at significant
// token k hold a comma outside nested ones: max(a, b), not max(a).
func (s *stmt) hasTopLevelComma(k int) bool {
	depth := 0
	for j := k; j < len(s.sig); j++ {
		switch {
		case s.punct(j, "("):
			depth++
		case s.punct(j, ")"):
			depth--
			if depth == 0 {
				return false
			}
		case depth == 1 && s.punct(j, ","):
			return true
		}
	}
	return false
}

// citext turns the TEXT type of the column definition that COLLATE NOCASE
// (at significant token k) belongs to into CITEXT. The type is found by
// walking back over the definition, skipping parenthesized parts (CHECK
// expressions), up to the comma or parenthesis that starts it.
func (s *stmt) citext(k int) error {
	for j := k - 1; j >= 0; j-- {
		switch {
		case s.punct(j, ")"):
			depth := 0
			for ; j >= 0; j-- {
				if s.punct(j, ")") {
					depth++
				} else if s.punct(j, "(") {
					depth--
					if depth == 0 {
						break
					}
				}
			}
		case s.punct(j, ",") || s.punct(j, "(") || s.punct(j, ";"):
			return s.fail(k, "COLLATE NOCASE outside a column definition of type TEXT %w", errUntranslatable)
		case s.word(j) == "text":
			s.set(j, "CITEXT")
			return nil
		}
	}
	return s.fail(k, "COLLATE NOCASE outside a column definition of type TEXT %w", errUntranslatable)
}

// onConflictDoNothing appends ON CONFLICT DO NOTHING to an INSERT: before
// its RETURNING clause, else before the closing ; or at the end.
func (s *stmt) onConflictDoNothing() {
	at := len(s.sig)
	depth := 0
	for k := range s.sig {
		switch {
		case s.punct(k, "("):
			depth++
		case s.punct(k, ")"):
			depth--
		case depth == 0 && (s.word(k) == "returning" || s.punct(k, ";")):
			if at == len(s.sig) {
				at = k
			}
		}
	}
	if at == len(s.sig) {
		s.toks[s.sig[at-1]].text += " ON CONFLICT DO NOTHING"
		return
	}
	if s.punct(at, ";") {
		s.toks[s.sig[at]].text = " ON CONFLICT DO NOTHING;"
		return
	}
	s.toks[s.sig[at]].text = "ON CONFLICT DO NOTHING " + s.toks[s.sig[at]].text
}
