package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed CronJob schedule.
type Schedule interface {
	// Next returns the first activation strictly after t, in t's location, or the
	// zero time if there is none within five years.
	Next(t time.Time) time.Time
}

// ParseSchedule parses a CronJob schedule: five fields (minute, hour, day of month,
// month, day of week) with *, ?, lists, ranges, steps and month/day names, or one of
// @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule")
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec)
	}
	parts := strings.Fields(spec)
	if len(parts) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %q", len(parts), spec)
	}
	var c cronSchedule
	var err error
	for i, f := range cronFields {
		var bits uint64
		var star bool
		if bits, star, err = f.parse(parts[i]); err != nil {
			return nil, err
		}
		switch i {
		case 0:
			c.minute = bits
		case 1:
			c.hour = bits
		case 2:
			c.dom, c.domStar = bits, star
		case 3:
			c.month = bits
		case 4:
			c.dow, c.dowStar = bits, star
		}
	}
	return &c, nil
}

func parseDescriptor(spec string) (Schedule, error) {
	all := func(f cronField) uint64 { return cronRangeBits(f.min, f.max, 1) }
	c := &cronSchedule{minute: 1 << 0, hour: 1 << 0, dom: 1 << 1, month: all(cronFields[3]), dow: all(cronFields[4])}
	switch spec {
	case "@yearly", "@annually":
		c.month = 1 << 1
		c.dowStar = true
	case "@monthly":
		c.dowStar = true
	case "@weekly":
		c.dom, c.domStar = all(cronFields[2]), true
		c.dow = 1 << 0
	case "@daily", "@midnight":
		c.dom, c.domStar, c.dowStar = all(cronFields[2]), true, true
	case "@hourly":
		c.hour = all(cronFields[1])
		c.dom, c.domStar, c.dowStar = all(cronFields[2]), true, true
	default:
		if rest, ok := strings.CutPrefix(spec, "@every "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(rest))
			if err != nil {
				return nil, fmt.Errorf("failed to parse duration %s: %v", spec, err)
			}
			if d <= 0 {
				return nil, fmt.Errorf("the duration of %s must be positive", spec)
			}
			return cronEvery(max(d.Truncate(time.Second), time.Second)), nil
		}
		return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
	}
	return c, nil
}

// cronField is one of the five fields: its bounds and value names.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day of week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// parse turns one field ("1,5-10/2,*/15") into a bit set; star reports a bare * or ?.
func (f cronField) parse(expr string) (uint64, bool, error) {
	var bits uint64
	star := false
	for _, item := range strings.Split(expr, ",") {
		b, s, err := f.parseItem(item)
		if err != nil {
			return 0, false, err
		}
		bits |= b
		star = star || s
	}
	return bits, star, nil
}

func (f cronField) parseItem(item string) (uint64, bool, error) {
	rangePart, stepPart, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepPart)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("invalid step %q in %s field %q", stepPart, f.name, item)
		}
		step = n
	}
	var lo, hi int
	star := false
	switch {
	case rangePart == "*" || rangePart == "?":
		lo, hi = f.min, f.max
		star = step == 1
	case strings.Contains(rangePart, "-"):
		a, b, _ := strings.Cut(rangePart, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return 0, false, err
		}
		if hi, err = f.value(b); err != nil {
			return 0, false, err
		}
	default:
		v, err := f.value(rangePart)
		if err != nil {
			return 0, false, err
		}
		lo, hi = v, v
		if hasStep {
			hi = f.max
		}
	}
	if lo < f.min || hi > f.max {
		return 0, false, fmt.Errorf("%s field %q is out of range %d-%d", f.name, item, f.min, f.max)
	}
	if lo > hi {
		return 0, false, fmt.Errorf("%s field %q starts after it ends", f.name, item)
	}
	return cronRangeBits(lo, hi, step), star, nil
}

func (f cronField) value(s string) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s value %q", f.name, s)
	}
	return n, nil
}

func cronRangeBits(lo, hi, step int) uint64 {
	var b uint64
	for v := lo; v <= hi; v += step {
		b |= 1 << uint(v)
	}
	return b
}

// cronSchedule holds one bit per allowed value of each field.
type cronSchedule struct {
	minute, hour, dom, month, dow uint64
	// A day matches both day fields when either is a bare * (or ?), and
	// either of them otherwise.
	domStar, dowStar bool
}

func cronHas(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

func (c *cronSchedule) dayMatches(t time.Time) bool {
	d, w := cronHas(c.dom, t.Day()), cronHas(c.dow, int(t.Weekday()))
	if c.domStar || c.dowStar {
		return d && w
	}
	return d || w
}

func (c *cronSchedule) Next(t time.Time) time.Time {
	loc := t.Location()
	// Start at the next whole minute.
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.Year() + 5
	for t.Year() <= limit {
		switch {
		case !cronHas(c.month, int(t.Month())):
			t = cronLaterOf(t, time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc))
		case !c.dayMatches(t):
			t = cronLaterOf(t, time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc))
		case !cronHas(c.hour, t.Hour()):
			t = t.Truncate(time.Minute).Add(time.Duration(60-t.Minute()) * time.Minute)
		case !cronHas(c.minute, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

// cronLaterOf returns next if it is after t; wall-clock arithmetic around a daylight
// saving change can fall back, and the search must always move forward.
func cronLaterOf(t, next time.Time) time.Time {
	if next.After(t) {
		return next
	}
	return t.Add(time.Hour)
}

// cronEvery runs at a fixed interval.
type cronEvery time.Duration

func (e cronEvery) Next(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Duration(e))
}
