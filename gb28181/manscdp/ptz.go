package manscdp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrPTZ is a PTZ action or command that is not one.
var ErrPTZ = errors.New("bad PTZ command")

// PTZ instruction bits (GB/T 28181-2016 A.3.2, byte 4).
const (
	ptzRight   = 0x01
	ptzLeft    = 0x02
	ptzDown    = 0x04
	ptzUp      = 0x08
	ptzZoomIn  = 0x10
	ptzZoomOut = 0x20
)

// PTZActions are the actions the API takes.
var PTZActions = []string{"up", "down", "left", "right", "zoom_in", "zoom_out", "stop"}

// PTZCmd is the 8-byte PTZCmd of action at speed (1-255; a zoom's 4-bit
// speed is speed/16 rounded up), as 16 hex digits:
//
//	A5, version 0 and the check (A + 5 + 0) mod 16, address low byte,
//	instruction, pan speed, tilt speed, zoom speed and address high
//	nibble, and the sum of the seven bytes mod 256.
func PTZCmd(action string, speed int) (string, error) {
	if speed < 1 || speed > 255 {
		return "", fmt.Errorf("%w: speed %d is not 1-255", ErrPTZ, speed)
	}
	var ins, pan, tilt, zoom byte
	s := byte(speed)
	switch action {
	case "up":
		ins, tilt = ptzUp, s
	case "down":
		ins, tilt = ptzDown, s
	case "left":
		ins, pan = ptzLeft, s
	case "right":
		ins, pan = ptzRight, s
	case "zoom_in":
		ins, zoom = ptzZoomIn, byte(min(15, (speed+15)/16))
	case "zoom_out":
		ins, zoom = ptzZoomOut, byte(min(15, (speed+15)/16))
	case "stop":
	default:
		return "", fmt.Errorf("%w: action %q is not one of %s", ErrPTZ, action, strings.Join(PTZActions, ", "))
	}
	const addr = 1
	b := [8]byte{0xA5, (0xA + 0x5 + 0) % 16, addr & 0xFF, ins, pan, tilt, zoom<<4 | addr>>8&0x0F}
	var sum int
	for _, c := range b[:7] {
		sum += int(c)
	}
	b[7] = byte(sum % 256)
	return strings.ToUpper(hex.EncodeToString(b[:])), nil
}

// ParsePTZCmd reads a PTZCmd back into its action and speed (the larger
// of its speeds; a zoom's is its nibble times 16), checking both checks.
func ParsePTZCmd(cmd string) (action string, speed int, err error) {
	b, err := hex.DecodeString(strings.TrimSpace(cmd))
	if err != nil || len(b) != 8 || b[0] != 0xA5 {
		return "", 0, fmt.Errorf("%w: %q is not 8 bytes starting A5", ErrPTZ, cmd)
	}
	if b[1]&0x0F != (b[0]>>4+b[0]&0x0F+b[1]>>4)%16 {
		return "", 0, fmt.Errorf("%w: byte 2 check", ErrPTZ)
	}
	var sum int
	for _, c := range b[:7] {
		sum += int(c)
	}
	if b[7] != byte(sum%256) {
		return "", 0, fmt.Errorf("%w: checksum", ErrPTZ)
	}
	switch ins := b[3] & 0x3F; {
	case ins == 0:
		return "stop", 0, nil
	case ins&ptzZoomIn != 0:
		return "zoom_in", int(b[6]>>4) * 16, nil
	case ins&ptzZoomOut != 0:
		return "zoom_out", int(b[6]>>4) * 16, nil
	case ins&ptzUp != 0:
		return "up", int(b[5]), nil
	case ins&ptzDown != 0:
		return "down", int(b[5]), nil
	case ins&ptzLeft != 0:
		return "left", int(b[4]), nil
	case ins&ptzRight != 0:
		return "right", int(b[4]), nil
	}
	return "", 0, fmt.Errorf("%w: instruction %#x", ErrPTZ, b[3])
}

// Control is a DeviceControl body carrying a PTZCmd for channel.
func Control(sn int, channel, ptzCmd string) []byte {
	return Encode("Control", F("CmdType", "DeviceControl"), F("SN", sn), F("DeviceID", channel), F("PTZCmd", ptzCmd),
		Field{Name: "Info", Children: []Field{F("ControlPriority", 5)}})
}
