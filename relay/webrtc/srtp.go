package webrtc

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// A viewer's RTP is sealed by the session itself, not by pion: pion's write
// path (interceptor, SRTP session, DTLS mux, ICE connection, UDP mux, all
// with their own locks) cost about half of the gateway's CPU per packet at
// 100 viewers, ten times the AES-GCM it wraps. The session derives the same
// SRTP keys pion does, from what the DTLS handshake it serves (as the DTLS
// server) exposes to two of pion's settings: the ServerHello the gateway
// sends (the server random, cipher suite and SRTP profile) and the key log
// line (the client random and master secret). The keys are checked against
// pion's own output on the session's first packet before they are used; a
// session whose check fails keeps pion's path (docs/design-notes.md,
// "Sealing SRTP ourselves").

// handshakeKeys collects one viewer's DTLS handshake secrets as they pass.
// It is the key log writer and the ServerHello hook of that viewer's
// peer connection only, and keeps what it learns in memory: nothing of it
// is written anywhere.
type handshakeKeys struct {
	mu      sync.Mutex
	server  [handshake.RandomLength]byte
	client  []byte
	master  []byte
	suite   uint16
	profile srtp.ProtectionProfile
	mki     bool // the viewer asked for a master key identifier
	hello   bool
}

// serverHello notes the ServerHello the gateway is about to send and
// returns it unchanged.
func (k *handshakeKeys) serverHello(m handshake.MessageServerHello) handshake.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.server = m.Random.MarshalFixed()
	if m.CipherSuiteID != nil {
		k.suite = *m.CipherSuiteID
	}
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			k.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
			k.mki = len(u.MasterKeyIdentifier) > 0
		}
	}
	k.hello = true
	return &m
}

// Write takes the key log line pion writes once the master secret is
// known: "CLIENT_RANDOM <client random> <master secret>", in hex.
func (k *handshakeKeys) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) != 3 || f[0] != "CLIENT_RANDOM" {
		return len(line), nil
	}
	client, err1 := hex.DecodeString(f[1])
	master, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || len(client) != handshake.RandomLength {
		return len(line), nil
	}
	k.mu.Lock()
	k.client, k.master = client, master
	k.mu.Unlock()
	return len(line), nil
}

// prfHash is the TLS 1.2 PRF hash of a DTLS cipher suite: SHA-384 for the
// suites named so, SHA-256 for every other (RFC 5246 section 5).
func prfHash(suite uint16) prf.HashFunc {
	if strings.HasSuffix(dtls.CipherSuiteName(dtls.CipherSuiteID(suite)), "_SHA384") {
		return func() hash.Hash { return sha512.New384() }
	}
	return sha256.New
}

// ExportKeyingMaterial is the DTLS exporter (RFC 5705) as the DTLS server
// computes it: the seed is the label, then the client and server randoms.
func (k *handshakeKeys) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, fmt.Errorf("%w: exporter context", ErrOwnSRTP)
	}
	seed := slices.Concat([]byte(label), k.client, k.server[:])
	return prf.PHash(k.master, seed, length, prfHash(k.suite))
}

// sender derives the gateway's SRTP sending context for the viewer and
// forgets the secrets it came from.
func (k *handshakeKeys) sender() (*srtpSender, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() {
		clear(k.master)
		k.master = nil
	}()
	switch {
	case !k.hello || k.master == nil:
		return nil, errNoHandshake
	case k.mki:
		return nil, fmt.Errorf("%w: master key identifiers are not supported", ErrOwnSRTP)
	case k.profile == 0:
		return nil, fmt.Errorf("%w: no SRTP profile", ErrOwnSRTP)
	}
	cfg := srtp.Config{Profile: k.profile}
	if err := cfg.ExtractSessionKeysFromDTLS(k, false); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnSRTP, err)
	}
	ctx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, k.profile)
	clear(cfg.Keys.LocalMasterKey)
	clear(cfg.Keys.RemoteMasterKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnSRTP, err)
	}
	return &srtpSender{ctx: ctx}, nil
}

// srtpSender seals one viewer's RTP packets (all its SSRCs).
type srtpSender struct {
	mu      sync.Mutex // the context keeps each SSRC's rollover counter
	ctx     *srtp.Context
	scratch []byte     // a packet sealed outside a batch
	hdr     rtp.Header // parsed back by the context; kept to not allocate
}

// srtpOverhead is room for the authentication tag of any SRTP profile.
const srtpOverhead = 32

// seal appends the SRTP packet of h and payload to dst: the header and
// payload are written in place and encrypted there.
func (o *srtpSender) seal(dst []byte, h *rtp.Header, payload []byte) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sealLocked(dst, h, payload)
}

func (o *srtpSender) sealLocked(dst []byte, h *rtp.Header, payload []byte) ([]byte, error) {
	start := len(dst)
	n := h.MarshalSize() + len(payload)
	dst = slices.Grow(dst, n+srtpOverhead)
	pkt := dst[start : start+n]
	hl, err := h.MarshalTo(pkt)
	if err != nil {
		return dst[:start], err
	}
	copy(pkt[hl:], payload)
	out, err := o.ctx.EncryptRTP(pkt, pkt, &o.hdr)
	if err != nil {
		return dst[:start], err
	}
	if len(out) == 0 || &out[0] != &pkt[0] { // not sealed in place (cannot happen with the room above)
		dst = append(dst[:start], out...)
		return dst, nil
	}
	return dst[:start+len(out)], nil
}

// matches seals h and payload and compares the result with what pion
// sent for them (the session's first packet), which proves the derived
// keys are pion's.
func (o *srtpSender) matches(h *rtp.Header, payload, sent []byte) bool {
	got, err := o.seal(nil, h, payload)
	return err == nil && len(sent) > 0 && bytes.Equal(got, sent)
}
