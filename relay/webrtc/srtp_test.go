package webrtc

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// handshake runs a real DTLS handshake on loopback UDP with the server
// side reporting to k, and returns the server's connection.
func dtlsHandshake(t *testing.T, k *handshakeKeys, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile) *dtls.Conn {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	base := dtls.Config{
		Certificates:           []tls.Certificate{cert},
		InsecureSkipVerify:     true,
		CipherSuites:           []dtls.CipherSuiteID{suite},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
	}
	srvCfg := base
	srvCfg.KeyLogWriter = k
	srvCfg.ServerHelloMessageHook = k.serverHello
	srvCfg.InsecureSkipVerifyHello = true
	srv, err := dtls.Server(a, b.LocalAddr(), &srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := dtls.Client(b, a.LocalAddr(), &base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cli.HandshakeContext(ctx) }()
	if err := srv.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return srv
}

// The keys a session derives from what its handshake showed are the ones
// pion's DTLS exports, for both PRF hashes and both SRTP profiles
// browsers use; sealing with them gives what pion's SRTP context gives.
func TestHandshakeKeysDeriveWhatDTLSExports(t *testing.T) {
	for _, tc := range []struct {
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
	}{
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM},
		{dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
	} {
		t.Run(dtls.CipherSuiteName(tc.suite), func(t *testing.T) {
			k := &handshakeKeys{}
			srv := dtlsHandshake(t, k, tc.suite, tc.profile)
			state, ok := srv.ConnectionState()
			if !ok {
				t.Fatal("no connection state")
			}
			want, err := state.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("derived keying material differs from the DTLS exporter's")
			}
			if k.profile != srtp.ProtectionProfile(tc.profile) {
				t.Fatalf("profile %v, want %v", k.profile, tc.profile)
			}

			// pion's context, made the way pion's DTLS transport makes it.
			cfg := srtp.Config{Profile: srtp.ProtectionProfile(tc.profile)}
			if err := cfg.ExtractSessionKeysFromDTLS(&state, false); err != nil {
				t.Fatal(err)
			}
			pion, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
			if err != nil {
				t.Fatal(err)
			}
			o, err := k.sender()
			if err != nil {
				t.Fatal(err)
			}
			if k.master != nil {
				t.Fatal("the master secret is kept after the keys are derived")
			}
			payload := bytes.Repeat([]byte{0x5c}, 1100)
			for i, seq := range []uint16{65534, 65535, 0, 1} { // across the rollover
				h := rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: seq, Timestamp: 90000 * uint32(i), SSRC: 0x1234}
				plain, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
				want, err := pion.EncryptRTP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				prefix := []byte("earlier packets in the arena")
				got, err := o.seal(append([]byte{}, prefix...), &h, payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
					t.Fatalf("seq %d: sealed packet differs from pion's", seq)
				}
			}
			// A packet pion sealed with other keys does not match.
			h := rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: 2, SSRC: 0x1234}
			plain, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
			other, _ := srtp.CreateContext(make([]byte, len(cfg.Keys.LocalMasterKey)), cfg.Keys.LocalMasterSalt, cfg.Profile)
			theirs, _ := other.EncryptRTP(nil, plain, nil)
			if o.matches(&h, payload, theirs) {
				t.Fatal("a packet sealed with other keys matched")
			}
		})
	}
}

// Without a handshake seen (the gateway was the DTLS client, or a
// master key identifier was asked for) there are no keys to use.
func TestHandshakeKeysRefuseWhatTheyCannotDerive(t *testing.T) {
	if _, err := (&handshakeKeys{}).sender(); err == nil {
		t.Fatal("keys from no handshake")
	}
	k := &handshakeKeys{}
	_, _ = k.Write([]byte("CLIENT_RANDOM zz 00\n")) // junk: ignored
	if k.master != nil {
		t.Fatal("a junk key log line was taken")
	}
	k.hello, k.mki, k.profile = true, true, srtp.ProtectionProfileAeadAes128Gcm
	_, _ = k.Write([]byte("CLIENT_RANDOM " + string(bytes.Repeat([]byte("ab"), 32)) + " " + string(bytes.Repeat([]byte("cd"), 48)) + "\n"))
	if k.master == nil {
		t.Fatal("a well-formed key log line was not taken")
	}
	if _, err := k.sender(); err == nil {
		t.Fatal("keys although the viewer asked for a master key identifier")
	}
}
