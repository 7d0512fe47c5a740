package tcp

import (
	"errors"
	"fmt"
)

// Sentinel errors for malformed segments. Compare with errors.Is; the
// errors returned may wrap them with detail.
var (
	// ErrTruncated reports a segment shorter than the 20-byte header.
	ErrTruncated = errors.New("tcp: truncated")
	// ErrBadDataOffset reports a data offset below 5 or a header longer
	// than the segment.
	ErrBadDataOffset = errors.New("tcp: bad data offset")
	// ErrBadOption reports malformed options: a length byte missing, below
	// 2 or running past the options area, or the wrong length for a known
	// option.
	ErrBadOption = errors.New("tcp: malformed option")
)

// Detailed option errors, built once so that reporting them allocates
// nothing.
var (
	errOptionTruncated = fmt.Errorf("%w: length byte missing", ErrBadOption)
	errOptionLength    = fmt.Errorf("%w: length below 2 or past the options area", ErrBadOption)
	errMSSLength       = fmt.Errorf("%w: MSS length is not 4", ErrBadOption)
	errWScaleLength    = fmt.Errorf("%w: window scale length is not 3", ErrBadOption)
	errSACKPermLength  = fmt.Errorf("%w: SACK-permitted length is not 2", ErrBadOption)
	errSACKLength      = fmt.Errorf("%w: SACK length is not 2+8n with 1 <= n <= 4", ErrBadOption)
	errTSLength        = fmt.Errorf("%w: timestamps length is not 10", ErrBadOption)
)
