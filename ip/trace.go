package ip

import (
	ds "netspace/dataspace"

	"go.uber.org/zap/zapcore"
)

func recordText(r ds.Record) string {
	if r == nil {
		return "#nil"
	}
	return ds.FormatRecord(r)
}

// MarshalLogObject renders the record in traces: addresses, protocol and
// the body's length, not its bytes.
func (r *Packet) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("iface", r.Iface)
	enc.AddBool("from_wire", r.FromWire)
	enc.AddString("src", r.Src.String())
	enc.AddString("dst", r.Dst.String())
	enc.AddUint8("proto", r.Proto)
	if len(r.Options) > 0 {
		enc.AddInt("options_len", len(r.Options))
	}
	enc.AddInt("len", len(r.Body))
	return nil
}

// MarshalLogObject renders the record in traces.
func (r *UDPChannel) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("src", recordText(r.Src))
	enc.AddString("dst", recordText(r.Dst))
	enc.AddInt("len", len(r.Body))
	return nil
}

// MarshalLogObject renders the record in traces.
func (r *ICMPError) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddUint8("type", r.Type)
	enc.AddUint8("code", r.Code)
	if h := IPv4(r.Original); len(h) >= IPv4MinHeaderLen {
		enc.AddString("about_src", h.Src().String())
		enc.AddString("about_dst", h.Dst().String())
		enc.AddUint8("about_proto", h.Protocol())
	}
	return nil
}
