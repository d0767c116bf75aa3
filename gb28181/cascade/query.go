package cascade

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
)

// onMessage answers the platform's queries (Catalog, DeviceInfo,
// DeviceStatus) and controls (PTZ). Anything else from it is taken (200)
// and let be; a MESSAGE from anybody else is refused.
func (c *Client) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if !c.fromPlatform(req) {
		c.respond(req, tx, 403, "Forbidden")
		return
	}
	m, err := manscdp.Decode(req.Body())
	if err != nil {
		c.respond(req, tx, 400, "Bad Request")
		return
	}
	switch {
	case m.Kind == "Query" && m.CmdType == "Catalog":
		c.respond(req, tx, 200, "OK")
		c.goAway(func() { c.answerCatalog(m.SN) })
	case m.Kind == "Query" && m.CmdType == "DeviceInfo":
		c.respond(req, tx, 200, "OK")
		c.goAway(func() { c.answerInfo(m) })
	case m.Kind == "Query" && m.CmdType == "DeviceStatus":
		c.respond(req, tx, 200, "OK")
		c.goAway(func() { c.answerStatus(m) })
	case m.Kind == "Query" && m.CmdType == "RecordInfo":
		c.respond(req, tx, 200, "OK")
		c.goAway(func() { c.answerRecords(m) })
	case m.Kind == "Control" && m.CmdType == "DeviceControl" && m.PTZCmd != "":
		code, reason := c.ptz(m)
		c.respond(req, tx, code, reason)
	default:
		c.respond(req, tx, 200, "OK")
	}
}

// channels answers the shared cameras now.
func (c *Client) channels(ctx context.Context) ([]Channel, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.deps.Catalog.Channels(ctx, c.p.Share)
}

func (c *Client) channel(ctx context.Context, id string) (Channel, bool) {
	chs, err := c.channels(ctx)
	if err != nil {
		return Channel{}, false
	}
	for _, ch := range chs {
		if ch.ID == id {
			return ch, true
		}
	}
	return Channel{}, false
}

// item is a channel as a catalog entry (GB/T 28181-2016 A.2.6.4).
func (c *Client) item(ch Channel, event string) manscdp.Field {
	status := "OFF"
	if ch.Online {
		status = "ON"
	}
	civil := ch.CivilCode
	if civil == "" {
		civil = c.p.LocalID[:6]
	}
	fields := []manscdp.Field{
		manscdp.F("DeviceID", ch.ID), manscdp.F("Name", ch.Name), manscdp.F("Manufacturer", orDash(ch.Manufacturer)),
		manscdp.F("Model", orDash(ch.Model)), manscdp.F("Owner", "Owner"), manscdp.F("CivilCode", civil),
		manscdp.F("Address", orDash(ch.Address)), manscdp.F("Parental", 0), manscdp.F("ParentID", c.p.LocalID),
		manscdp.F("SafetyWay", 0), manscdp.F("RegisterWay", 1), manscdp.F("Secrecy", 0), manscdp.F("Status", status),
	}
	if ch.HasPosition {
		fields = append(fields, manscdp.F("Longitude", strconv.FormatFloat(ch.Lon, 'f', 6, 64)),
			manscdp.F("Latitude", strconv.FormatFloat(ch.Lat, 'f', 6, 64)))
	}
	ptz := ch.PTZType
	switch {
	case ptz != 0:
	case ch.PTZ:
		ptz = 1 // dome
	default:
		ptz = 3 // fixed
	}
	fields = append(fields, manscdp.Field{Name: "Info", Children: []manscdp.Field{manscdp.F("PTZType", ptz)}})
	if event != "" {
		fields = append(fields, manscdp.F("Event", event))
	}
	return manscdp.Field{Name: "Item", Children: fields}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// answerCatalog sends the shared cameras in pages of PageSize, SumNum in
// each, one page after the platform took the one before (a slow platform
// sets the pace), and remembers what the platform was told.
func (c *Client) answerCatalog(sn int) {
	chs, err := c.channels(c.ctx)
	if err != nil {
		c.log.Warn("catalog not answered", "error", err)
		return
	}
	c.mu.Lock()
	clear(c.told)
	for _, ch := range chs {
		c.told[ch.ID] = ch
	}
	c.mu.Unlock()
	if err := c.sendItems("Response", sn, chs, ""); err != nil {
		c.log.Warn("catalog not delivered whole", "error", err)
	}
}

// sendItems sends chs as catalog MESSAGEs of kind (Response to a query,
// Notify of a change), each waiting for the platform's answer to the one
// before. A page holds at most PageSize items and, over UDP, what fits
// one datagram (two or three items: devices send one).
func (c *Client) sendItems(kind string, sn int, chs []Channel, event string) error {
	sum := len(chs)
	limit := 60 << 10
	if c.p.Transport == "udp" {
		limit = maxUDPBody
	}
	encode := func(items []manscdp.Field) []byte {
		return manscdp.Encode(kind, manscdp.F("CmdType", "Catalog"), manscdp.F("SN", sn), manscdp.F("DeviceID", c.p.LocalID),
			manscdp.F("SumNum", sum), manscdp.Field{Name: "DeviceList", Attrs: [][2]string{{"Num", strconv.Itoa(len(items))}}, Children: items})
	}
	page := 0
	for i := 0; i == 0 || i < sum; {
		items := []manscdp.Field{}
		body := encode(items)
		for i < sum && len(items) < c.deps.PageSize {
			next := encode(append(items, c.item(chs[i], event)))
			if len(items) > 0 && len(next) > limit {
				break
			}
			items, body = append(items, c.item(chs[i], event)), next
			i++
		}
		page++
		code, err := c.message(c.ctx, body)
		if err != nil {
			return fmt.Errorf("catalog page %d: %w", page, err)
		}
		if code != 200 {
			return fmt.Errorf("%w: catalog page %d answered %d", ErrRefused, page, code)
		}
		if sum == 0 {
			break
		}
	}
	return nil
}

// maxRecordRange is the longest RecordInfo range answered (a platform
// asking for more gets the first that long).
const maxRecordRange = 31 * 24 * time.Hour

// answerRecords answers RecordInfo for a shared camera from the gateway's
// index: its spans over the range, in the platform's local time, paged
// as the catalog is (over UDP what fits one datagram: one a MESSAGE),
// SumNum in each. A code not shared, a range that cannot be read or is
// inverted, is answered with nothing (SumNum 0).
func (c *Client) answerRecords(q *manscdp.Message) {
	loc := c.deps.Location
	var items []manscdp.RecordItem
	from, err1 := manscdp.ParseTime(q.StartTime, loc)
	to, err2 := manscdp.ParseTime(q.EndTime, loc)
	ch, shared := c.channel(c.ctx, q.DeviceID)
	if shared && err1 == nil && err2 == nil && from.Before(to) && c.deps.Records != nil {
		if to.Sub(from) > maxRecordRange {
			to = from.Add(maxRecordRange)
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		spans, err := c.deps.Records(ctx, ch.CameraID, from, to)
		cancel()
		if err != nil {
			c.log.Warn("RecordInfo: spans not read", "camera", ch.CameraID, "error", err)
		}
		for _, sp := range spans {
			items = append(items, manscdp.RecordItem{DeviceID: ch.ID, Name: ch.Name, FilePath: ch.ID + "/" + sp.Start.UTC().Format("20060102T150405Z"),
				Address: c.p.LocalID, StartTime: sp.Start.In(loc).Format(manscdp.TimeLayout), EndTime: sp.End.In(loc).Format(manscdp.TimeLayout),
				Type: "time"})
		}
	}
	name := ""
	if shared {
		name = ch.Name
	}
	per := c.deps.PageSize
	if c.p.Transport == "udp" {
		per = 1 // a recording item with its SIP headers is half a datagram
	}
	limit := 60 << 10
	sum := len(items)
	for i := 0; i == 0 || i < sum; {
		page := []manscdp.RecordItem{}
		for i < sum && len(page) < per {
			if len(page) > 0 && len(manscdp.RecordInfoPage(q.SN, q.DeviceID, name, sum, append(page, items[i]))) > limit {
				break
			}
			page = append(page, items[i])
			i++
		}
		code, err := c.message(c.ctx, manscdp.RecordInfoPage(q.SN, q.DeviceID, name, sum, page))
		if err != nil || code != 200 {
			c.log.Warn("RecordInfo not delivered whole", "channel", q.DeviceID, "code", code, "error", err)
			return
		}
		if sum == 0 {
			break
		}
	}
}

// maxUDPBody is the largest MESSAGE body sent over UDP: with the SIP
// headers it stays inside one 1,500-byte datagram.
const maxUDPBody = 1000

// watchCatalog tells a registered platform what changed in its share
// (cameras added, removed, renamed, going on or off line) as catalog
// notifications, without a re-sync being asked for.
func (c *Client) watchCatalog() {
	t := time.NewTicker(c.deps.CatalogEvery)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		ready := c.status.Registered && len(c.told) > 0
		c.mu.Unlock()
		if !ready {
			continue // the platform has not asked yet: its query will have it all
		}
		chs, err := c.channels(c.ctx)
		if err != nil {
			continue
		}
		var add, del, upd, on, off []Channel
		now := map[string]Channel{}
		c.mu.Lock()
		for _, ch := range chs {
			now[ch.ID] = ch
			old, ok := c.told[ch.ID]
			was := old
			was.Online = ch.Online
			switch {
			case !ok:
				add = append(add, ch)
			case was != ch:
				upd = append(upd, ch)
			case old.Online && !ch.Online:
				off = append(off, ch) // only its status changed: the standard's OFF and ON events
			case !old.Online && ch.Online:
				on = append(on, ch)
			}
		}
		for id, ch := range c.told {
			if _, ok := now[id]; !ok {
				del = append(del, ch)
			}
		}
		c.mu.Unlock()
		sent := true
		for _, batch := range []struct {
			chs   []Channel
			event string
		}{{add, "ADD"}, {del, "DEL"}, {upd, "UPDATE"}, {off, "OFF"}, {on, "ON"}} {
			if len(batch.chs) == 0 {
				continue
			}
			if err := c.sendItems("Notify", int(c.sn.Add(1)), batch.chs, batch.event); err != nil {
				c.log.Warn("catalog change not delivered", "event", batch.event, "error", err)
				sent = false
				break
			}
		}
		if sent && len(add)+len(del)+len(upd)+len(on)+len(off) > 0 {
			c.log.Info("catalog change told to the platform", "added", len(add), "removed", len(del), "updated", len(upd), "on", len(on), "off", len(off))
			c.mu.Lock()
			c.told = now
			c.mu.Unlock()
		}
	}
}

// answerInfo answers DeviceInfo for the street (or one of its channels).
func (c *Client) answerInfo(q *manscdp.Message) {
	chs, _ := c.channels(c.ctx)
	name := c.deps.Name
	if name == "" {
		name = c.p.LocalID
	}
	id := c.p.LocalID
	for _, ch := range chs {
		if ch.ID == q.DeviceID {
			id, name = ch.ID, ch.Name
		}
	}
	body := manscdp.Encode("Response", manscdp.F("CmdType", "DeviceInfo"), manscdp.F("SN", q.SN), manscdp.F("DeviceID", id),
		manscdp.F("Result", "OK"), manscdp.F("DeviceName", name), manscdp.F("Manufacturer", c.deps.Manufacturer),
		manscdp.F("Model", c.deps.Model), manscdp.F("Firmware", orDash(c.deps.Firmware)), manscdp.F("Channel", len(chs)))
	if _, err := c.message(c.ctx, body); err != nil {
		c.log.Debug("DeviceInfo not delivered", "error", err)
	}
}

// answerStatus answers DeviceStatus: the street is online; a channel as
// its camera is.
func (c *Client) answerStatus(q *manscdp.Message) {
	online, status, id := "ONLINE", "OK", c.p.LocalID
	if q.DeviceID != "" && q.DeviceID != c.p.LocalID {
		ch, ok := c.channel(c.ctx, q.DeviceID)
		if !ok {
			return // not one of ours: nothing to say
		}
		id = ch.ID
		if !ch.Online {
			online, status = "OFFLINE", "ERROR"
		}
	}
	body := manscdp.Encode("Response", manscdp.F("CmdType", "DeviceStatus"), manscdp.F("SN", q.SN), manscdp.F("DeviceID", id),
		manscdp.F("Result", "OK"), manscdp.F("Online", online), manscdp.F("Status", status),
		manscdp.F("DeviceTime", time.Now().In(cst).Format("2006-01-02T15:04:05")))
	if _, err := c.message(c.ctx, body); err != nil {
		c.log.Debug("DeviceStatus not delivered", "error", err)
	}
}

var cst = time.FixedZone("CST", 8*3600)

// ptz hands a PTZCmd to a shared camera that takes PTZ (the SIP status
// to answer with).
func (c *Client) ptz(m *manscdp.Message) (int, string) {
	ch, ok := c.channel(c.ctx, m.DeviceID)
	if !ok {
		return 404, "Not Found"
	}
	if !ch.PTZ || c.deps.PTZ == nil {
		return 403, "Forbidden"
	}
	if _, _, err := manscdp.ParsePTZCmd(m.PTZCmd); err != nil {
		return 400, "Bad Request" // not a PTZCmd, or its checks fail
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if err := c.deps.PTZ(ctx, ch.CameraID, m.PTZCmd); err != nil {
		c.log.Warn("PTZ from the platform not delivered", "camera", ch.CameraID, "error", err)
		return 503, "Service Unavailable"
	}
	return 200, "OK"
}

// Alarm tells the platform of an alarm on a shared camera (an Alarm
// notification, GB/T 28181-2016 A.2.5.5): priority 1-4, method 5 (video)
// or 2 (device) and the alarm type. A camera not shared is not told.
func (c *Client) Alarm(ctx context.Context, cameraID string, at time.Time, priority, method, typ int, description string) error {
	c.mu.Lock()
	registered := c.status.Registered
	c.mu.Unlock()
	if !registered {
		return ErrNotRegistered
	}
	chs, err := c.channels(ctx)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.CameraID != cameraID {
			continue
		}
		fields := []manscdp.Field{manscdp.F("CmdType", "Alarm"), manscdp.F("SN", c.sn.Add(1)), manscdp.F("DeviceID", ch.ID),
			manscdp.F("AlarmPriority", priority), manscdp.F("AlarmMethod", method),
			manscdp.F("AlarmTime", at.In(cst).Format("2006-01-02T15:04:05")), manscdp.F("AlarmDescription", description)}
		if typ > 0 { // methods without types (phone, SMS, GPS, other) have no Info
			fields = append(fields, manscdp.Field{Name: "Info", Children: []manscdp.Field{manscdp.F("AlarmType", typ)}})
		}
		body := manscdp.Encode("Notify", fields...)
		code, err := c.message(ctx, body)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("%w: alarm answered %d", ErrRefused, code)
		}
		return nil
	}
	return ErrNotShared
}

// Kick asks for a new registration now (the platform said it does not
// know the street).
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}
