package cases

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"sharpeyes/events"
)

// KindPolicy says whether an incident kind opens a case, and how.
type KindPolicy struct {
	OpensCase bool   `json:"opens_case" yaml:"opens_case"`
	Category  string `json:"category" yaml:"category"`
	Priority  int    `json:"priority" yaml:"priority"`
	LimitDays int    `json:"limit_days" yaml:"limit_days"`
	// NightOnly opens a case only between 22:00 and 06:00 local time
	// (intrusion into a park by day is not a case; by night it is).
	NightOnly bool `json:"night_only,omitempty" yaml:"night_only"`
	// After: the incident must have lasted this long before its case
	// opens (a camera offline past health.fault_after); one that ends
	// sooner opens none.
	After time.Duration `json:"after,omitempty" yaml:"after"`
	// DispatchTo is a cell role (maintainer, grid_worker, …): the gateway
	// registers the case and dispatches it to the one holding that role in
	// the case's cell or the nearest cell above it (the centre dispatches
	// when none does).
	DispatchTo string `json:"dispatch_to,omitempty" yaml:"dispatch_to"`
	// OnReturn is what the case gets once the incident's cameras are back
	// (its outage closed and not reopened within the merge window): "note"
	// records the return and asks the assignee to close it, "close"
	// closes it as well, "" does nothing.
	OnReturn string `json:"on_return,omitempty" yaml:"on_return"`
}

// What a case gets when its cameras come back.
const (
	ReturnNote  = "note"
	ReturnClose = "close"
)

// DefaultPolicy: motion never opens a case; offline, tamper, fire and
// smoke, crowds and night-time intrusion do.
func DefaultPolicy() map[string]KindPolicy {
	return map[string]KindPolicy{
		events.Motion:       {OpensCase: false},
		events.Offline:      {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 3, After: 10 * time.Minute, DispatchTo: "maintainer", OnReturn: ReturnNote},
		events.VideoLoss:    {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 3, After: 10 * time.Minute, DispatchTo: "maintainer", OnReturn: ReturnNote},
		events.StorageFault: {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 5},
		events.StorageFull:  {OpensCase: true, Category: "device_fault", Priority: 2, LimitDays: 1},
		events.Tamper:       {OpensCase: true, Category: "device_tamper", Priority: 2, LimitDays: 2},
		events.FireSmoke:    {OpensCase: true, Category: "fire_safety", Priority: 1, LimitDays: 1},
		events.Crowd:        {OpensCase: true, Category: "public_order", Priority: 2, LimitDays: 1},
		events.Intrusion:    {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1, NightOnly: true},
		events.ObjectLeft:   {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1},
		// GB/T 28181 alarms: a person raising one (a button, a phone, a
		// message) and a thing taken away are cases; a device's own faults
		// go to maintenance; counts and movements are for the record.
		events.PhoneAlarm:      {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1},
		events.SMSAlarm:        {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1},
		events.ManualAlarm:     {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1},
		events.ObjectRemoved:   {OpensCase: true, Category: "public_security", Priority: 2, LimitDays: 1},
		events.HighTemperature: {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 5},
		events.LowTemperature:  {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 5},
		events.FanFault:        {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 5},
		events.DeviceFault:     {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 5},
	}
}

// kindNames are the incident kinds as the street says them.
var kindNames = map[string]string{
	events.Offline: "摄像机离线", events.VideoLoss: "视频丢失", events.Tamper: "视频遮挡", events.Motion: "移动侦测",
	events.Intrusion: "区域入侵", events.LineCross: "越界", events.Loiter: "徘徊", events.Crowd: "人员聚集",
	events.FireSmoke: "烟火", events.ObjectLeft: "物品遗留", events.IO: "报警输入", events.StorageFault: "存储故障",
	events.StorageFull: "录像存储已满", events.PhoneAlarm: "电话报警", events.SMSAlarm: "短信报警", events.GPSAlarm: "GPS报警",
	events.ManualAlarm: "人工报警", events.ObjectRemoved: "物品移除", events.Retrograde: "逆行", events.FlowCount: "流量统计报警",
	events.FastMotion: "快速移动", events.HighTemperature: "设备高温", events.LowTemperature: "设备低温", events.FanFault: "风扇故障",
	events.DeviceAlarm: "设备报警", events.VideoAlarm: "视频报警", events.DeviceFault: "设备故障", events.Alarm: "报警",
}

// KindName is an incident kind in Chinese (the kind itself when unknown).
func KindName(kind string) string {
	if n, ok := kindNames[kind]; ok {
		return n
	}
	return kind
}

// JoinRadius: a new case joins an open case of the same category in the
// same grid this close, instead of duplicating it.
const JoinRadius = 250.0

// Place is what the pipeline needs to know about a camera.
type Place struct {
	Name     string
	Grid     string // base cell
	Lat, Lon *float64
}

// Pipeline turns incidents into cases by policy.
type Pipeline struct {
	Events *events.Store
	Cases  *Store
	Policy map[string]KindPolicy
	Loc    *time.Location
	// Place describes a camera (name, base cell, location).
	Place func(cameraID string) Place
	// Holder is who holds a cell role in a cell or the nearest cell above
	// it ("" when nobody does; nil: policy dispatches nothing).
	Holder func(grid, role string) string
	// Why says why a camera is down (ingest's reason: timeout, refused,
	// unauthorized…; "" when unknown; nil: never said).
	Why func(cameraID string) string
	// Now is the time (nil: the clock's).
	Now func() time.Time
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

var gatewayActor = Actor{ID: "gateway", Role: System}

// Intake records an event and, when it opens an incident that policy
// turns into a case, opens or joins that case. When Intake returns nil the
// event is committed.
func (p *Pipeline) Intake(ctx context.Context, e events.Event, grids []string, site string) (events.Outcome, error) {
	out, err := p.Events.Record(ctx, e, grids, site, time.Now())
	if err != nil {
		return out, err
	}
	if out.New {
		id, err := p.caseFor(ctx, out.Incident)
		if err != nil {
			return out, err // the event is committed; Reconcile will open the case
		}
		out.Incident.CaseID = id
	}
	return out, nil
}

// Reconcile opens the cases of open incidents that have none (after a
// crash between an event and its case, or incidents opened by Tick).
func (p *Pipeline) Reconcile(ctx context.Context) (int, error) {
	var kinds []string
	for k, pol := range p.Policy {
		if pol.OpensCase {
			kinds = append(kinds, k)
		}
	}
	pending, err := p.Events.WithoutCase(ctx, kinds)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range pending {
		id, err := p.caseFor(ctx, in)
		if err != nil {
			return n, err
		}
		if id != "" {
			n++
		}
	}
	return n, nil
}

// caseFor opens (or joins) the case of an incident, returning its id ("" when
// policy opens none). The case id derives from the incident, so doing it
// twice after a crash finds the first case instead of making another.
func (p *Pipeline) caseFor(ctx context.Context, in events.Incident) (string, error) {
	pol, ok := p.Policy[in.Kind]
	if !ok || !pol.OpensCase {
		return "", nil
	}
	if pol.NightOnly {
		h := in.FirstSeen.In(p.Loc).Hour()
		if h >= 6 && h < 22 {
			return "", nil
		}
	}
	if pol.After > 0 && p.now().Sub(in.FirstSeen) < pol.After {
		return "", nil // not long enough yet: Reconcile comes back to it
	}
	place := p.Place(in.CameraID)
	if join, err := p.nearbyOpen(ctx, pol.Category, place); err != nil {
		return "", err
	} else if join != "" {
		if err := p.Cases.Note(ctx, join, gatewayActor, "join", fmt.Sprintf("事件 %s（摄像机 %s）并入本工单", in.ID, place.Name),
			map[string]string{"note_key": "incident_joined", "incident": in.ID, "camera": in.CameraID, "camera_name": place.Name}); err != nil {
			return "", err
		}
		return join, p.Events.SetCase(ctx, in.ID, join)
	}
	// What the gateway writes itself is in the street's language (Chinese)
	// and carries the kind and camera, so screens can say it in the
	// reader's.
	c := Case{ID: "C-" + in.ID, Source: "event", Category: pol.Category, Kind: in.Kind,
		Title:       fmt.Sprintf("%s：%s", KindName(in.Kind), place.Name),
		Description: fmt.Sprintf("摄像机「%s」报警（%s），事件 %s", place.Name, KindName(in.Kind), in.ID),
		Grid:        place.Grid, CameraID: in.CameraID, IncidentID: in.ID, Lat: place.Lat, Lon: place.Lon,
		Priority: min(pol.Priority, in.Priority), LimitDays: pol.LimitDays, SLAStart: in.FirstSeen}
	if c.Priority < 1 {
		c.Priority = pol.Priority
	}
	note := Note{Text: "按处置策略自动开单：" + KindName(in.Kind), Key: "opened_by_policy", Args: map[string]string{"kind": in.Kind}}
	if pol.After > 0 { // a fault: say since when, and why when known
		why := ""
		if p.Why != nil {
			why = p.Why(in.CameraID)
		}
		down := in.FirstSeen.In(p.Loc).Format("2006-01-02 15:04")
		c.Description = fmt.Sprintf("%s：摄像机「%s」，自 %s 起超过 %s未恢复", KindName(in.Kind), place.Name, down, minutes(pol.After))
		if len(in.Cameras) > 1 { // the site's address is not for every reader: not named
			c.Description = fmt.Sprintf("%s：同一站点 %d 路摄像机（首路「%s」），自 %s 起超过 %s未恢复", KindName(in.Kind), len(in.Cameras), place.Name, down, minutes(pol.After))
		}
		if why != "" {
			c.Description += "；原因：" + ReasonName(why)
		}
		c.Description += "；事件 " + in.ID
		note = Note{Text: fmt.Sprintf("按处置策略自动开单：%s超过 %s", KindName(in.Kind), minutes(pol.After)), Key: "fault_opened",
			Args: map[string]string{"kind": in.Kind, "reason": why, "down_at": in.FirstSeen.UTC().Format(time.RFC3339),
				"cameras": strconv.Itoa(len(in.Cameras)), "after_min": strconv.Itoa(int(pol.After / time.Minute))}}
	}
	created, err := p.Cases.CreateNoted(ctx, c, gatewayActor, note)
	if errors.Is(err, ErrExists) { // made before a crash: dispatch it if that was not done
		created, err = p.Cases.Get(ctx, c.ID)
	}
	if err != nil {
		return "", err
	}
	if created.State == Received && pol.DispatchTo != "" && p.Holder != nil {
		if err := p.dispatch(ctx, created, pol.DispatchTo); err != nil {
			return "", err
		}
	}
	return c.ID, p.Events.SetCase(ctx, in.ID, c.ID)
}

// dispatch registers a case the gateway opened and sends it to whoever
// holds role in its cell (or above); with nobody named it waits for the
// centre.
func (p *Pipeline) dispatch(ctx context.Context, c Case, role string) error {
	who := p.Holder(c.Grid, role)
	if who == "" {
		return nil
	}
	if _, err := p.Cases.Act(ctx, c.ID, Register, gatewayActor, Args{Note: "按处置策略受理"}); err != nil {
		return fmt.Errorf("register %s: %w", c.ID, err)
	}
	if _, err := p.Cases.Act(ctx, c.ID, Dispatch, gatewayActor, Args{Assignee: who, Note: "按处置策略派往 " + role}); err != nil {
		return fmt.Errorf("dispatch %s: %w", c.ID, err)
	}
	return nil
}

// Returns tells the cases of outages that ended at or before now-settle
// (not reopened since: past the merge window) that their cameras are back,
// as each kind's policy says: a note asking to close, or closed. A case
// with another incident still open, or a camera of the incident that up
// says is not back, waits. It answers how many cases were told.
func (p *Pipeline) Returns(ctx context.Context, settle time.Duration, up func(cameraID string) bool) (int, error) {
	var kinds []string
	for k, pol := range p.Policy {
		if pol.OpensCase && pol.OnReturn != "" {
			kinds = append(kinds, k)
		}
	}
	now := p.now()
	ins, err := p.Events.Returned(ctx, kinds, now.Add(-settle), 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range ins {
		back := true
		for _, cam := range in.Cameras {
			if up != nil && !up(cam) {
				back = false
			}
		}
		if !back {
			continue // a site's other camera still down: asked again next time
		}
		told, err := p.tellReturn(ctx, in, now)
		if err != nil {
			return n, err
		}
		if told {
			n++
		}
		if err := p.Events.MarkReturned(ctx, in.ID, now); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *Pipeline) tellReturn(ctx context.Context, in events.Incident, now time.Time) (bool, error) {
	cs, err := p.Cases.Get(ctx, in.CaseID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if !cs.State.Open() {
		return false, nil // closed meanwhile: nothing to ask
	}
	if open, err := p.Events.OpenOfCase(ctx, cs.ID); err != nil || open > 0 {
		return false, err // another outage of the case is still on
	}
	ended := now
	if in.EndedAt != nil {
		ended = *in.EndedAt
	}
	down := ended.Sub(in.FirstSeen).Round(time.Minute)
	text := fmt.Sprintf("摄像机已恢复在线：%s 离线至 %s（%s），请核实后办结", in.FirstSeen.In(p.Loc).Format("01-02 15:04"),
		ended.In(p.Loc).Format("01-02 15:04"), minutes(down))
	args := map[string]string{"note_key": "camera_back", "incident": in.ID, "down_at": in.FirstSeen.UTC().Format(time.RFC3339),
		"back_at": ended.UTC().Format(time.RFC3339), "down_min": strconv.Itoa(int(down / time.Minute))}
	if err := p.Cases.Note(ctx, cs.ID, gatewayActor, "camera_back", text, args); err != nil {
		return false, err
	}
	if p.Policy[in.Kind].OnReturn == ReturnClose {
		if _, err := p.Cases.Act(ctx, cs.ID, Close, gatewayActor, Args{Note: "摄像机已恢复在线，按处置策略办结"}); err != nil {
			return false, fmt.Errorf("close %s: %w", cs.ID, err)
		}
	}
	return true, nil
}

func minutes(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d 秒", int(d/time.Second))
	}
	return fmt.Sprintf("%d 分钟", int(d/time.Minute))
}

// reasonNames say why a camera is down, as the street says it.
var reasonNames = map[string]string{
	"timeout": "无响应（超时）", "refused": "拒绝连接", "unauthorized": "用户名或密码不对", "not_found": "码流地址不存在",
	"no_media": "无视频数据", "frozen": "画面冻结", "device_offline": "所属设备离线", "channel_off": "设备目录显示通道关闭",
}

// ReasonName is a reason in Chinese (the reason itself when unknown).
func ReasonName(r string) string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return r
}

func (p *Pipeline) nearbyOpen(ctx context.Context, category string, place Place) (string, error) {
	if place.Grid == "" || place.Lat == nil {
		return "", nil
	}
	open, err := p.Cases.List(ctx, Filter{Category: category, Grid: place.Grid, Escalation: -1, Limit: 1000})
	if err != nil {
		return "", err
	}
	for _, c := range open {
		if !c.State.Open() || c.Lat == nil {
			continue
		}
		if metres(*c.Lat, *c.Lon, *place.Lat, *place.Lon) <= JoinRadius {
			return c.ID, nil
		}
	}
	return "", nil
}

func metres(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * 6371008.8 * math.Asin(math.Sqrt(h))
}
