package scim

// ParseUUID returns the 16 bytes of s if s is a UUID's text in lower
// case: 36 characters, hexadecimal digits with hyphens at 8, 13, 18 and
// 23; false for any other string (an upper-case digit included, as ids
// are compared case-exactly). Its digits are read through a table,
// without a branch each: callers parse hundreds of thousands of ids, and
// the mispredicted branch of a digit or a letter costs more than the
// rest of the parse.
func ParseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte // the high bit of hexValues' answer for a byte that is no digit
	for k, i := range uuidDigits {
		hi, lo := hexValues[s[i]], hexValues[s[i+1]]
		bad |= hi | lo
		u[k] = hi<<4 | lo
	}
	if bad&0x80 != 0 {
		return [16]byte{}, false
	}
	return u, true
}

// AppendUUID appends the text of the UUID whose bytes are u to b, in the
// lower-case form ParseUUID reads.
func AppendUUID(b []byte, u [16]byte) []byte {
	for i, c := range u {
		switch i {
		case 4, 6, 8, 10:
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return b
}

// uuidDigits are where the 16 pairs of hex digits of a UUID's text begin.
var uuidDigits = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexValues maps a byte to its value as a lowercase hex digit, 0xff if it
// is none.
var hexValues = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()
