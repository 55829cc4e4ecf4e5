package resp

import (
	"bufio"
	"bytes"
)

// readInline reads one inline command: a line of words separated by blanks,
// as typed into telnet. It appends the words to args; an empty line gives
// none.
func (r *Reader) readInline(args [][]byte) ([][]byte, error) {
	line, err := r.readInlineLine()
	if err != nil {
		return args, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return r.splitInline(line, args)
}

// readInlineLine copies the next line, "\n" included, into r.buf and returns
// it. It fails as soon as the line passes MaxInline bytes, having read at
// most MaxInline plus one bufio buffer of it, and as soon as a NUL byte
// arrives, newline or not.
func (r *Reader) readInlineLine() ([]byte, error) {
	r.resetBuf()
	for {
		part, err := r.br.ReadSlice('\n')
		if bytes.IndexByte(part, 0) >= 0 {
			return nil, ErrInlineNUL
		}
		if len(r.buf)+len(part) > r.lim.MaxInline {
			return nil, ErrTooBigInline
		}
		r.grow(nil, len(part))
		r.buf = append(r.buf, part...)
		switch err {
		case nil:
			return r.buf, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, noEOF(err)
		}
	}
}

// splitInline splits line into words in place, the way Redis' sdssplitargs
// does (see inlineWord), and appends them to args. The words are written
// over line; each is never longer than its source text, so the writes stay
// behind the reads.
func (r *Reader) splitInline(line []byte, args [][]byte) ([][]byte, error) {
	room := r.lim.MaxRequest - len(line)
	p, w := 0, 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return args, nil
		}
		if len(args) == r.lim.MaxArgs {
			return args, ErrTooManyInlineArgs
		}
		if room -= ArgOverhead; room < 0 {
			return args, ErrTooBigRequest
		}
		start := w
		var ok bool
		if p, w, ok = inlineWord(line, p, w); !ok {
			return args, ErrUnbalancedQuotes
		}
		args = append(args, line[start:w:w])
	}
}

// inlineWord reads the word that starts at line[p], writing its bytes from
// line[w] on, and returns the positions after it. Like sdssplitargs:
//   - outside quotes a word ends at a space, tab, CR or LF; a quote opens a
//     quoted part, even in the middle of a word;
//   - inside double quotes \xHH is the byte 0xHH, \n \r \t \b \a are control
//     characters, and a backslash before any other byte is that byte;
//   - inside single quotes only \' is an escape;
//   - a closing quote must be followed by a blank or the end of the line,
//     and a quote left open is an error (ok is false).
func inlineWord(line []byte, p, w int) (int, int, bool) {
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	put := func(c byte) {
		line[w] = c
		w++
	}
	var dq, sq bool // inside "double" or 'single' quotes
	for {
		c := at(p)
		switch {
		case dq && p == len(line), sq && p == len(line):
			return p, w, false
		case dq && c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
			put(unhex(at(p+2))<<4 | unhex(at(p+3)))
			p += 4
		case dq && c == '\\' && p+1 < len(line):
			put(unescape(line[p+1]))
			p += 2
		case sq && c == '\\' && at(p+1) == '\'':
			put('\'')
			p += 2
		case dq && c == '"', sq && c == '\'':
			if p+1 < len(line) && !isSpace(line[p+1]) {
				return p, w, false
			}
			return p + 1, w, true
		case dq, sq:
			put(c)
			p++
		case p == len(line):
			return p, w, true
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			return p + 1, w, true
		case c == '"':
			dq = true
			p++
		case c == '\'':
			sq = true
			p++
		default:
			put(c)
			p++
		}
	}
}

// isSpace reports whether c is a blank for C's isspace in the C locale, which
// sdssplitargs uses between words and after a closing quote.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unhex returns the value of the hex digit c.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unescape returns the byte that a backslash followed by c stands for inside
// double quotes.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
