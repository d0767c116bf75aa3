package mansrtsp

import "testing"

func TestRequestsReadBackAsWritten(t *testing.T) {
	for _, r := range []Request{
		{Method: Play, CSeq: 2, Scale: 4},
		{Method: Play, CSeq: 3, Range: 12.5, HasRange: true},
		{Method: Play, CSeq: 4},
		{Method: Pause, CSeq: 5},
		{Method: Teardown, CSeq: 6},
	} {
		got, err := Parse(r.Marshal())
		if err != nil || got != r {
			t.Errorf("%q read back as %+v (%v)", r.Marshal(), got, err)
		}
	}
	// As devices and platforms write them.
	got, err := Parse([]byte("PLAY RTSP/1.0\r\nCSeq: 7\r\nRange: npt=100-\r\n\r\n"))
	if err != nil || got.Method != Play || !got.HasRange || got.Range != 100 {
		t.Errorf("RTSP/1.0 PLAY: %+v %v", got, err)
	}
	got, err = Parse([]byte("PAUSE MANSRTSP/1.0\nCSeq: 8\nPauseTime: now\n"))
	if err != nil || got.Method != Pause || got.CSeq != 8 {
		t.Errorf("PAUSE: %+v %v", got, err)
	}
	for _, bad := range []string{"", "GET / HTTP/1.1\r\n\r\n", "PLAY MANSRTSP/1.0\r\n\r\n", "PLAY MANSRTSP/1.0\r\nCSeq: x\r\n",
		"PLAY MANSRTSP/1.0\r\nCSeq: 1\r\nScale: 0\r\n", "PLAY MANSRTSP/1.0\r\nCSeq: 1\r\nScale: 1e9\r\n",
		"PLAY MANSRTSP/1.0\r\nCSeq: 1\r\nRange: clock=1-\r\n", "PLAY MANSRTSP/1.0\r\nCSeq: 1\r\nRange: npt=-5-\r\n", "FLY MANSRTSP/1.0\r\nCSeq: 1\r\n"} {
		if r, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q read as %+v", bad, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("PLAY MANSRTSP/1.0\r\nCSeq: 2\r\nScale: 4.0\r\n\r\n"))
	f.Add([]byte("PLAY RTSP/1.0\r\nCSeq: 7\r\nRange: npt=100-\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(r.Marshal())
		if err != nil || again.Method != r.Method || again.CSeq != r.CSeq || again.HasRange != r.HasRange {
			t.Fatalf("%q → %+v → %q → %+v %v", b, r, r.Marshal(), again, err)
		}
	})
}
