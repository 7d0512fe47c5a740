package tcp

// State is a connection state (RFC 9293 §3.3.2).
type State uint8

// The connection states. CLOSED is the zero value.
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

var stateNames = [...]string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "STATE?"
}

// synchronized reports whether the state is one of the synchronized
// states of RFC 9293 §3.5.2 (ESTABLISHED and after).
func (s State) synchronized() bool { return s >= Established }

// canReceive reports whether data may still arrive in the state.
func (s State) canReceive() bool {
	return s == Established || s == FinWait1 || s == FinWait2
}

// canSend reports whether the user may still queue data in the state.
func (s State) canSend() bool {
	return s == SynSent || s == SynReceived || s == Established || s == CloseWait
}
