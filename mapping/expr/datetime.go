package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// interval is a unit of DateAdd and DateDiff.
type interval uint8

const (
	ivYear interval = iota
	ivQuarter
	ivMonth
	ivDay
	ivWeek         // "w": 7 days
	ivCalendarWeek // "ww": weeks, Sunday to Sunday
	ivHour
	ivMinute
	ivSecond
)

// intervals are VBA's interval names, lower case.
var intervals = map[string]interval{
	"yyyy": ivYear, "q": ivQuarter, "m": ivMonth, "y": ivDay, "d": ivDay,
	"w": ivWeek, "ww": ivCalendarWeek, "h": ivHour, "n": ivMinute, "s": ivSecond,
}

// dateAdd adds k intervals to t. Adding months keeps the day of the month
// where it exists and otherwise takes the last day of the month, as .NET
// AddMonths does.
func dateAdd(iv interval, k int64, t time.Time) time.Time {
	switch iv {
	case ivYear:
		return addMonths(t, 12*k)
	case ivQuarter:
		return addMonths(t, 3*k)
	case ivMonth:
		return addMonths(t, k)
	case ivDay:
		return t.AddDate(0, 0, int(k))
	case ivWeek, ivCalendarWeek:
		return t.AddDate(0, 0, int(7*k))
	case ivHour:
		return t.Add(time.Duration(k) * time.Hour)
	case ivMinute:
		return t.Add(time.Duration(k) * time.Minute)
	}
	return t.Add(time.Duration(k) * time.Second)
}

func addMonths(t time.Time, k int64) time.Time {
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + k
	ny, nm := int(total/12), time.Month(total%12+1)
	if total < 0 {
		return t // out of range; leave it
	}
	if last := daysIn(ny, nm); d > last {
		d = last
	}
	h, mi, s := t.Clock()
	return time.Date(ny, nm, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dateDiff counts the interval boundaries crossed from t1 to t2, as VBA
// DateDiff does: DateDiff("yyyy", Dec 31, Jan 1) is 1.
func dateDiff(iv interval, t1, t2 time.Time) int64 {
	switch iv {
	case ivYear:
		return int64(t2.Year() - t1.Year())
	case ivQuarter:
		return int64(t2.Year()*4+(int(t2.Month())-1)/3) - int64(t1.Year()*4+(int(t1.Month())-1)/3)
	case ivMonth:
		return int64(t2.Year()*12+int(t2.Month())) - int64(t1.Year()*12+int(t1.Month()))
	case ivDay:
		return dayNumber(t2) - dayNumber(t1)
	case ivWeek:
		return (dayNumber(t2) - dayNumber(t1)) / 7
	case ivCalendarWeek:
		return floorDiv(dayNumber(t2)-int64(t2.Weekday()), 7) - floorDiv(dayNumber(t1)-int64(t1.Weekday()), 7)
	case ivHour:
		return floorDiv(t2.Unix(), 3600) - floorDiv(t1.Unix(), 3600)
	case ivMinute:
		return floorDiv(t2.Unix(), 60) - floorDiv(t1.Unix(), 60)
	}
	return t2.Unix() - t1.Unix()
}

// dayNumber is the number of days from 1970-01-01 to t's date.
func dayNumber(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// AD FILETIME: 100-nanosecond ticks since 1601-01-01 UTC.
const (
	fileTimeEpochDelta = 11644473600         // seconds from 1601 to 1970
	maxFileTime        = 2650467743999999999 // 9999-12-31T23:59:59.9999999Z
)

func fromFileTime(ticks int64) (time.Time, bool) {
	if ticks < 0 || ticks > maxFileTime {
		return time.Time{}, false
	}
	return time.Unix(ticks/1e7-fileTimeEpochDelta, ticks%1e7*100).UTC(), true
}

func toFileTime(t time.Time) (int64, bool) {
	secs := t.Unix() + fileTimeEpochDelta
	if secs < 0 || secs > maxFileTime/10000000 {
		return 0, false
	}
	return secs*1e7 + int64(t.Nanosecond()/100), true
}

// dateLayouts are the forms CDate and the date functions read, tried in
// order. Forms without a zone are UTC.
var dateLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02Z07:00",
	"2006-01-02",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 3:04 PM",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006",
	"20060102150405.999999999Z07:00",
	"20060102150405Z07:00",
	"20060102",
	time.RFC1123Z,
	time.RFC1123,
}

// parseDate reads a date in one of the usual ISO 8601, US and AD forms
// and converts it to UTC.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ---- .NET custom date and time format strings ----

type tokKind uint8

const (
	tLit     tokKind = iota
	tYear            // y
	tMonth           // M
	tDay             // d
	tHour12          // h
	tHour24          // H
	tMinute          // m
	tSecond          // s
	tFrac            // f
	tFracOpt         // F
	tAMPM            // t
	tOffset          // z
	tKind            // K
	tEra             // g
)

// dateTok is one element of a .NET format: a specifier repeated n times,
// or literal text.
type dateTok struct {
	kind tokKind
	n    int
	lit  string
}

// dateFormat is a parsed .NET custom date and time format string.
type dateFormat []dateTok

var specifiers = map[byte]tokKind{
	'y': tYear, 'M': tMonth, 'd': tDay, 'h': tHour12, 'H': tHour24, 'm': tMinute,
	's': tSecond, 'f': tFrac, 'F': tFracOpt, 't': tAMPM, 'z': tOffset, 'K': tKind, 'g': tEra,
}

// parseDateFormat parses a .NET custom format string such as
// "yyyyMMddHHmmss.fZ". Letters that are not specifiers, and quoted or
// backslash-escaped text, are literal; '%' marks a lone specifier.
func parseDateFormat(s string) (dateFormat, error) {
	var f dateFormat
	lit := func(text string) {
		if len(f) > 0 && f[len(f)-1].kind == tLit {
			f[len(f)-1].lit += text
			return
		}
		f = append(f, dateTok{kind: tLit, lit: text})
	}
	for i := 0; i < len(s); {
		c := s[i]
		if k, ok := specifiers[c]; ok {
			j := i
			for j < len(s) && s[j] == c {
				j++
			}
			n := j - i
			if (k == tFrac || k == tFracOpt) && n > 7 {
				return nil, fmt.Errorf("%q: at most 7 fraction digits", s[i:j])
			}
			f = append(f, dateTok{kind: k, n: n})
			i = j
			continue
		}
		switch c {
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, errors.New("unterminated quoted text")
			}
			lit(s[i+1 : i+1+end])
			i += end + 2
		case '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			lit(s[i+1 : i+2])
			i += 2
		case '%':
			if i+1 >= len(s) {
				return nil, errors.New("trailing %")
			}
			k, ok := specifiers[s[i+1]]
			if !ok {
				return nil, fmt.Errorf("%% must precede a specifier, not %q", s[i+1])
			}
			f = append(f, dateTok{kind: k, n: 1})
			i += 2
		default:
			lit(s[i : i+1])
			i++
		}
	}
	return f, nil
}

var (
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func pad(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// format renders t (UTC) in the format.
func (f dateFormat) format(t time.Time) string {
	b := make([]byte, 0, 32)
	for _, tk := range f {
		switch tk.kind {
		case tLit:
			b = append(b, tk.lit...)
		case tYear:
			switch tk.n {
			case 1:
				b = strconv.AppendInt(b, int64(t.Year()%100), 10)
			case 2:
				b = pad(b, t.Year()%100, 2)
			default:
				b = pad(b, t.Year(), tk.n)
			}
		case tMonth:
			switch tk.n {
			case 1, 2:
				b = pad(b, int(t.Month()), tk.n)
			case 3:
				b = append(b, monthNames[t.Month()-1][:3]...)
			default:
				b = append(b, monthNames[t.Month()-1]...)
			}
		case tDay:
			switch tk.n {
			case 1, 2:
				b = pad(b, t.Day(), tk.n)
			case 3:
				b = append(b, dayNames[t.Weekday()][:3]...)
			default:
				b = append(b, dayNames[t.Weekday()]...)
			}
		case tHour12:
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, h, min(tk.n, 2))
		case tHour24:
			b = pad(b, t.Hour(), min(tk.n, 2))
		case tMinute:
			b = pad(b, t.Minute(), min(tk.n, 2))
		case tSecond:
			b = pad(b, t.Second(), min(tk.n, 2))
		case tFrac, tFracOpt:
			digits := pad(nil, t.Nanosecond()/100, 7)[:tk.n]
			if tk.kind == tFracOpt {
				digits = []byte(strings.TrimRight(string(digits), "0"))
				if len(digits) == 0 && len(b) > 0 && b[len(b)-1] == '.' {
					b = b[:len(b)-1]
				}
			}
			b = append(b, digits...)
		case tAMPM:
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			b = append(b, ampm[:min(tk.n, 2)]...)
		case tOffset:
			switch tk.n {
			case 1:
				b = append(b, "+0"...)
			case 2:
				b = append(b, "+00"...)
			default:
				b = append(b, "+00:00"...)
			}
		case tKind:
			b = append(b, 'Z')
		case tEra:
			b = append(b, "A.D."...)
		}
	}
	return string(b)
}

// dateScanner reads a date by a dateFormat.
type dateScanner struct {
	s   string
	pos int
}

func (d *dateScanner) digits(minN, maxN int) (int, bool) {
	start := d.pos
	for d.pos < len(d.s) && d.pos-start < maxN && isDigit(d.s[d.pos]) {
		d.pos++
	}
	if d.pos-start < minN {
		return 0, false
	}
	v, err := strconv.Atoi(d.s[start:d.pos])
	return v, err == nil || d.pos == start
}

// name reads one of names (or its first three letters if short), in any
// case, and returns its index.
func (d *dateScanner) name(names []string, short bool) (int, bool) {
	for i, n := range names {
		if short {
			n = n[:3]
		}
		if len(d.s)-d.pos >= len(n) && strings.EqualFold(d.s[d.pos:d.pos+len(n)], n) {
			d.pos += len(n)
			return i, true
		}
	}
	return 0, false
}

// parse reads s by the format, as .NET ParseExact does with leading and
// trailing white space allowed, and returns it in UTC.
func (f dateFormat) parse(s string) (time.Time, error) {
	d := &dateScanner{s: strings.TrimSpace(s)}
	year, month, day := 1, 1, 1
	hour, minute, sec, nsec := 0, 0, 0, 0
	pm, hasAMPM, offset := false, false, 0
	bad := func(what string) error { return fmt.Errorf("expected %s at offset %d", what, d.pos) }
	for _, tk := range f {
		var ok bool
		switch tk.kind {
		case tLit:
			if !strings.HasPrefix(d.s[d.pos:], tk.lit) {
				// Be lenient about white space, as AllowInnerWhite would.
				if strings.TrimSpace(tk.lit) == "" {
					continue
				}
				return time.Time{}, bad(strconv.Quote(tk.lit))
			}
			d.pos += len(tk.lit)
			ok = true
		case tYear:
			switch tk.n {
			case 1:
				year, ok = d.digits(1, 2)
			case 2:
				year, ok = d.digits(2, 2)
			default:
				year, ok = d.digits(tk.n, max(tk.n, 4))
			}
			if ok && tk.n <= 2 {
				year += 1900
				if year < 1950 {
					year += 100 // .NET's two-digit year window ends in 2049
				}
			}
		case tMonth:
			switch tk.n {
			case 1, 2:
				month, ok = d.digits(tk.n, 2)
			default:
				month, ok = d.name(monthNames[:], tk.n == 3)
				month++
			}
		case tDay:
			switch tk.n {
			case 1, 2:
				day, ok = d.digits(tk.n, 2)
			default:
				_, ok = d.name(dayNames[:], tk.n == 3)
			}
		case tHour12, tHour24:
			hour, ok = d.digits(min(tk.n, 2), 2)
		case tMinute:
			minute, ok = d.digits(min(tk.n, 2), 2)
		case tSecond:
			sec, ok = d.digits(min(tk.n, 2), 2)
		case tFrac, tFracOpt:
			start := d.pos
			minN := tk.n
			if tk.kind == tFracOpt {
				minN = 0
			}
			_, ok = d.digits(minN, tk.n)
			if ok {
				frac := d.s[start:d.pos] + strings.Repeat("0", 9-(d.pos-start))
				nsec, _ = strconv.Atoi(frac)
			}
		case tAMPM:
			hasAMPM = true
			rest := strings.ToUpper(d.s[d.pos:])
			switch {
			case tk.n >= 2 && (strings.HasPrefix(rest, "AM") || strings.HasPrefix(rest, "PM")):
				pm, ok = rest[0] == 'P', true
				d.pos += 2
			case tk.n == 1 && (strings.HasPrefix(rest, "A") || strings.HasPrefix(rest, "P")):
				pm, ok = rest[0] == 'P', true
				d.pos++
			}
		case tOffset, tKind:
			if tk.kind == tKind && d.pos == len(d.s) {
				ok = true
				break
			}
			if d.pos < len(d.s) && d.s[d.pos] == 'Z' {
				d.pos++
				ok = true
				break
			}
			offset, ok = d.offset()
		case tEra:
			for _, e := range []string{"A.D.", "AD"} {
				if strings.HasPrefix(d.s[d.pos:], e) {
					d.pos += len(e)
					break
				}
			}
			ok = true
		}
		if !ok {
			return time.Time{}, bad(describeTok(tk))
		}
	}
	if d.pos != len(d.s) {
		return time.Time{}, fmt.Errorf("unexpected %q after the date", d.s[d.pos:])
	}
	if hasAMPM {
		if hour < 1 || hour > 12 {
			return time.Time{}, errors.New("hour out of range")
		}
		hour %= 12
		if pm {
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errors.New("date out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// offset reads a zone offset: +h, +hh, +hh:mm or +hhmm, in seconds.
func (d *dateScanner) offset() (int, bool) {
	if d.pos >= len(d.s) || (d.s[d.pos] != '+' && d.s[d.pos] != '-') {
		return 0, false
	}
	sign := 1
	if d.s[d.pos] == '-' {
		sign = -1
	}
	d.pos++
	h, ok := d.digits(1, 2)
	if !ok || h > 14 {
		return 0, false
	}
	m := 0
	if d.pos < len(d.s) && d.s[d.pos] == ':' {
		d.pos++
		if m, ok = d.digits(2, 2); !ok {
			return 0, false
		}
	} else if m2, ok := d.digits(2, 2); ok {
		m = m2
	}
	if m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

func describeTok(tk dateTok) string {
	names := map[tokKind]string{
		tYear: "year", tMonth: "month", tDay: "day", tHour12: "hour", tHour24: "hour",
		tMinute: "minutes", tSecond: "seconds", tFrac: "fraction of a second",
		tFracOpt: "fraction of a second", tAMPM: "AM or PM", tOffset: "zone offset",
		tKind: "zone", tEra: "era",
	}
	return names[tk.kind]
}
