package resp

// BufCap returns the capacity of the Reader's payload buffer, so that the
// black-box tests can check the memory bound.
func (r *Reader) BufCap() int { return cap(r.buf) }
