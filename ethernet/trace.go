package ethernet

import "go.uber.org/zap/zapcore"

// MarshalLogObject renders the record in traces.
func (r *Interface) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", r.Name)
	enc.AddString("mac", r.MAC.String())
	enc.AddInt("mtu", r.MTU)
	return nil
}

// MarshalLogObject renders the record in traces: addresses, type and the
// body's length, not its bytes.
func (r *Packet) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("iface", r.Iface)
	enc.AddBool("from_wire", r.FromWire)
	enc.AddString("src", r.Src.String())
	enc.AddString("dst", r.Dst.String())
	enc.AddUint16("type", r.Type)
	enc.AddInt("len", len(r.Body))
	return nil
}

// MarshalLogObject renders the record in traces.
func (r *Join) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("iface", r.Iface)
	enc.AddString("mac", r.MAC.String())
	return nil
}

// MarshalLogObject renders the record in traces.
func (r *ARPEntry) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("iface", r.Iface)
	enc.AddString("ip", r.IP.String())
	enc.AddString("mac", r.MAC.String())
	return nil
}
