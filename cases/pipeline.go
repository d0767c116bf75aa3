package cases

import (
	"context"
	"errors"
	"fmt"
	"math"
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
}

// DefaultPolicy: motion never opens a case; offline, tamper, fire and
// smoke, crowds and night-time intrusion do.
func DefaultPolicy() map[string]KindPolicy {
	return map[string]KindPolicy{
		events.Motion:       {OpensCase: false},
		events.Offline:      {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 3},
		events.VideoLoss:    {OpensCase: true, Category: "device_fault", Priority: 3, LimitDays: 3},
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
	if _, err := p.Cases.CreateNoted(ctx, c, gatewayActor, note); err != nil && !errors.Is(err, ErrExists) {
		return "", err
	}
	return c.ID, p.Events.SetCase(ctx, in.ID, c.ID)
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
