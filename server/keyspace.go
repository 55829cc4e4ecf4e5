package server

import (
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// Redis' keyspace notifications, from the memory's change feed (the one
// the __dsm__: channels use): while notify-keyspace-events allows them, a
// change of variable NAME is also published on __keyspace@0__:NAME, with
// the event as the message, and on __keyevent@0__:EVENT, with NAME as the
// message. The feed reports each variable's new state, not the command
// that made it, so there are two events: "set" (class $, string) for a
// write that leaves a value, whatever the command (SET, INCR, APPEND,
// MSET...; Redis names some of these otherwise: incrby, append), and
// "del" (class g, generic) for a variable that ends (DEL, GETDEL, the
// source of RENAME, FLUSHALL: one per variable, where Redis sends none).
// Writes to one variable in quick succession may show as one event, as
// its change messages do, and the feed reports each slot's latest state:
// a variable deleted and its slot taken by a new one before the feed
// reader looked shows only as the new variable's "set". The other classes are accepted and never fire:
// variables do not expire, are not evicted, and are strings. Every
// process' writes are reported, local ones included.

// Redis' notification flags (its NOTIFY_*), in CONFIG's letters.
const (
	notifyKeyspace = 1 << iota // K
	notifyKeyevent             // E
	notifyGeneric              // g
	notifyString               // $
	notifyList                 // l
	notifySet                  // s
	notifyHash                 // h
	notifyZset                 // z
	notifyExpired              // x
	notifyEvicted              // e
	notifyStream               // t
	notifyKeyMiss              // m
	notifyLoaded               // (modules only)
	notifyModule               // d
	notifyNew                  // n

	// notifyAll is A: every class but m and n.
	notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZset |
		notifyExpired | notifyEvicted | notifyStream | notifyModule
)

// notifyLetters maps each class letter to its flag, in the order Redis
// writes them back (A aside).
var notifyLetters = []struct {
	letter byte
	flag   int32
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet}, {'h', notifyHash},
	{'z', notifyZset}, {'x', notifyExpired}, {'e', notifyEvicted}, {'t', notifyStream}, {'d', notifyModule},
	{'n', notifyNew},
}

// parseNotifyFlags parses notify-keyspace-events' letters; false for a
// letter Redis does not know.
func parseNotifyFlags(s string) (int32, bool) {
	var flags int32
	for i := range len(s) {
		switch ch := s[i]; ch {
		case 'A':
			flags |= notifyAll
		case 'K':
			flags |= notifyKeyspace
		case 'E':
			flags |= notifyKeyevent
		case 'm':
			flags |= notifyKeyMiss
		default:
			found := false
			for _, l := range notifyLetters {
				if l.letter == ch {
					flags |= l.flag
					found = true
				}
			}
			if !found {
				return 0, false
			}
		}
	}
	return flags, true
}

// notifyString writes flags back as Redis does: A for all classes, the
// class letters otherwise (n among them), then K, E and m.
func notifyFlagsString(flags int32) string {
	var b strings.Builder
	if flags&notifyAll == notifyAll {
		b.WriteByte('A') // and nothing of n, as Redis writes it
	} else {
		for _, l := range notifyLetters {
			if flags&l.flag != 0 {
				b.WriteByte(l.letter)
			}
		}
	}
	for _, l := range []struct {
		letter byte
		flag   int32
	}{{'K', notifyKeyspace}, {'E', notifyKeyevent}, {'m', notifyKeyMiss}} {
		if flags&l.flag != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

func setNotifyFlags(s *Server, value string) (func(), string) {
	flags, ok := parseNotifyFlags(value)
	if !ok {
		return nil, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
	}
	return func() { s.notify.Store(flags) }, ""
}

// notifyLocked publishes a change's keyspace notifications, as flags
// allow; h.mu is held.
func (h *hub) notifyLocked(flags int32, ch shm.Change) {
	event, class := "set", int32(notifyString)
	switch {
	case ch.Err != nil: // a damaged value: no Redis event says so
		return
	case !ch.Item.Found:
		event, class = "del", notifyGeneric
	}
	if h.deletedAgain(ch) || flags&class == 0 {
		return
	}
	if flags&notifyKeyspace != 0 {
		h.publishLocked("__keyspace@0__:"+string(ch.Name), event)
	}
	if flags&notifyKeyevent != 0 {
		h.publishLocked("__keyevent@0__:"+event, string(ch.Name))
	}
}

// goneMax bounds hub.gone; beyond it the set starts afresh, and a deletion
// may then, rarely, be notified twice.
const goneMax = 1 << 16

// deletedAgain reports whether ch deletes a variable whose deletion was
// notified already: shm's feed may report a deletion twice (its commit,
// then the slot's release), and Redis notifies it once. h.mu is held.
func (h *hub) deletedAgain(ch shm.Change) bool {
	if ch.Item.Found {
		delete(h.gone, string(ch.Name))
		return false
	}
	if _, ok := h.gone[string(ch.Name)]; ok {
		return true
	}
	if len(h.gone) >= goneMax {
		clear(h.gone)
	}
	h.gone[string(ch.Name)] = struct{}{}
	return false
}
