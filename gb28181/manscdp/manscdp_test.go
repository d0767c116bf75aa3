package manscdp

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func gb2312(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

const catalog = `<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>17</SN>
<DeviceID>34020000001110000001</DeviceID>
<SumNum>3</SumNum>
<DeviceList Num="2">
<Item>
<DeviceID>34020000001320000001</DeviceID>
<Name>瘦西湖南门</Name>
<Manufacturer>Hikvision</Manufacturer>
<Model>DS-2CD</Model>
<CivilCode>3210030</CivilCode>
<Parental>0</Parental>
<ParentID>34020000001110000001</ParentID>
<Status>ON</Status>
<Longitude>119.4231</Longitude>
<Latitude>32.4102</Latitude>
<Info><PTZType>1</PTZType></Info>
</Item>
<Item>
<DeviceID>34020000001310000002</DeviceID>
<Name>Gate 2</Name>
<Status>OFF</Status>
<Longitude>0</Longitude>
<Latitude>0</Latitude>
</Item>
</DeviceList>
</Response>
`

// TestDecodeCatalogInEitherCharset: a catalog page as devices send it, in
// GB2312 as declared and in UTF-8 under the same declaration, reads the
// same: its channels, names, status, position and PTZ type.
func TestDecodeCatalogInEitherCharset(t *testing.T) {
	for name, body := range map[string][]byte{"gb2312": gb2312(t, catalog), "utf-8 declared gb2312": []byte(catalog),
		"utf-8": []byte(strings.Replace(catalog, "GB2312", "UTF-8", 1))} {
		m, err := Decode(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Kind != "Response" || m.CmdType != "Catalog" || m.SN != 17 || m.SumNum != 3 || m.DeviceList == nil || len(m.DeviceList.Items) != 2 {
			t.Fatalf("%s: %+v", name, m)
		}
		a, b := m.DeviceList.Items[0], m.DeviceList.Items[1]
		if a.Name != "瘦西湖南门" || !a.Online() || a.PTZType() != PTZDome || !IsVideoChannel(a.DeviceID) {
			t.Fatalf("%s: first item %+v", name, a)
		}
		if lon, lat, ok := a.Position(); !ok || lon != 119.4231 || lat != 32.4102 {
			t.Fatalf("%s: position %v %v %v", name, lon, lat, ok)
		}
		if _, _, ok := b.Position(); ok || b.Online() {
			t.Fatalf("%s: 0,0 is no position and OFF is offline: %+v", name, b)
		}
	}
}

// TestDecodeRefusesWhatIsNotMANSCDP: not XML, another root, no CmdType,
// an unknown charset, and a body over MaxBody are each ErrInvalid.
func TestDecodeRefusesWhatIsNotMANSCDP(t *testing.T) {
	for _, body := range []string{"", "junk", "<html><body>x</body></html>", "<Query><SN>1</SN></Query>",
		`<?xml version="1.0" encoding="KOI8-R"?><Query><CmdType>Catalog</CmdType></Query>`, "<Query><CmdType>Catalog",
		"<Query>" + strings.Repeat("<a>", MaxBody) + "</Query>"} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("%.60q decoded", body)
		}
	}
}

// TestEncodeQueryAndControl: what the gateway sends decodes back, in
// GB2312 (the name of a platform in Chinese survives the round trip).
func TestEncodeQueryAndControl(t *testing.T) {
	m, err := Decode(Query("Catalog", 3, "34020000001110000001"))
	if err != nil || m.Kind != "Query" || m.CmdType != "Catalog" || m.SN != 3 || m.DeviceID != "34020000001110000001" {
		t.Fatalf("query: %+v %v", m, err)
	}
	body := Encode("Response", F("CmdType", "DeviceInfo"), F("SN", 4), F("DeviceID", "x"), F("DeviceName", "<瘦西湖街道>"), F("Result", "OK"))
	if !strings.Contains(string(body), `encoding="GB2312"`) {
		t.Fatal("no GB2312 declaration")
	}
	m, err = Decode(body)
	if err != nil || m.DeviceName != "<瘦西湖街道>" || m.Result != "OK" {
		t.Fatalf("response: %+v %v", m, err)
	}
	cmd, _ := PTZCmd("left", 0x1F)
	m, err = Decode(Control(5, "34020000001320000001", cmd))
	if err != nil || m.Kind != "Control" || m.CmdType != "DeviceControl" || m.PTZCmd != cmd {
		t.Fatalf("control: %+v %v", m, err)
	}
}

// TestPTZCmd: the bytes of the standard's example (left at 0x1F is
// A50F01021F0000D6), every action round trips, and a command with a bad
// check is refused.
func TestPTZCmd(t *testing.T) {
	if got, _ := PTZCmd("left", 0x1F); got != "A50F01021F0000D6" {
		t.Fatalf("left 0x1F: %s", got)
	}
	want := map[string]string{"up": "A50F0108001F00DC", "down": "A50F0104001F00D8", "right": "A50F01011F0000D5",
		"zoom_in": "A50F0110000020E5", "zoom_out": "A50F0120000020F5", "stop": "A50F0100000000B5"}
	for action, hex := range want {
		got, err := PTZCmd(action, 0x1F)
		if err != nil || got != hex {
			t.Errorf("%s: %s %v, want %s", action, got, err, hex)
		}
		a, _, err := ParsePTZCmd(got)
		if err != nil || a != action {
			t.Errorf("%s read back as %s %v", action, a, err)
		}
	}
	for _, bad := range []string{"A50F01021F0000D7", "A50E01021F0000D5", "B50F01021F0000D6", "A50F01", "zz"} {
		if _, _, err := ParsePTZCmd(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, bad := range []struct {
		a string
		s int
	}{{"spin", 10}, {"up", 0}, {"up", 256}} {
		if _, err := PTZCmd(bad.a, bad.s); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// FuzzDecode: any body decodes or is refused, without a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(catalog))
	f.Add(Query("DeviceInfo", 1, "34020000001110000001"))
	f.Add([]byte(`<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>1</DeviceID><Status>OK</Status></Notify>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil && m.CmdType == "" {
			t.Fatal("decoded without a CmdType")
		}
		if err == nil && m.DeviceList != nil {
			for _, it := range m.DeviceList.Items {
				it.Position()
				it.Online()
			}
		}
	})
}

// TestPTZByType: GB/T 28181-2016's PTZ types — 1 dome and 4 remote bullet
// take PTZ, 2 half-dome and 3 fixed bullet do not, and a channel that
// does not say (no Info, an empty or unknown PTZType) does.
func TestPTZByType(t *testing.T) {
	for body, want := range map[string]bool{
		"<Info><PTZType>1</PTZType></Info>": true, "<Info><PTZType>2</PTZType></Info>": false,
		"<Info><PTZType>3</PTZType></Info>": false, "<Info><PTZType> 4 </PTZType></Info>": true,
		"": true, "<Info></Info>": true, "<Info><PTZType></PTZType></Info>": true, "<Info><PTZType>x</PTZType></Info>": true,
	} {
		m, err := Decode([]byte(`<?xml version="1.0"?><Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>32100300001110000001</DeviceID>` +
			`<SumNum>1</SumNum><DeviceList Num="1"><Item><DeviceID>32100300001310000001</DeviceID>` + body + `</Item></DeviceList></Response>`))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got := m.DeviceList.Items[0].Steerable(); got != want {
			t.Errorf("%q: steerable %v, want %v", body, got, want)
		}
	}
}
