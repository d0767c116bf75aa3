package cases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Attachment is a photo kept with a case. Body is left out of listings.
type Attachment struct {
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Lat         *float64  `json:"lat,omitempty"`
	Lon         *float64  `json:"lon,omitempty"`
	UploadedBy  string    `json:"uploaded_by"`
	At          time.Time `json:"at"`
	Body        []byte    `json:"-"`
}

// Attach stores photos with a case, all or none, with one audit row.
func (s *Store) Attach(ctx context.Context, caseID string, who Actor, atts []Attachment) ([]Attachment, error) {
	c, err := s.Get(ctx, caseID)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now().UTC().Truncate(time.Millisecond)
	names := make([]string, len(atts))
	for i := range atts {
		a := &atts[i]
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		a.ID, a.CaseID, a.UploadedBy, a.At, a.Size = "A"+hex.EncodeToString(b), caseID, who.ID, now, int64(len(a.Body))
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_attachments (id, case_id, name, content_type, size, body, lat, lon, uploaded_by, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), a.ID, a.CaseID, a.Name, a.ContentType, a.Size, a.Body, a.Lat, a.Lon, a.UploadedBy, ms(a.At)); err != nil {
			return nil, fmt.Errorf("store attachment: %w", err)
		}
		names[i] = a.Name
	}
	detail, _ := json.Marshal(map[string]any{"names": names})
	if err := s.audit(ctx, tx, AuditRow{CaseID: caseID, At: now, Actor: who.ID, Role: who.Role, Action: "attach",
		From: c.State, To: c.State, Escalation: c.Escalation, Note: fmt.Sprintf("%d photo(s)", len(atts)),
		Detail: detail}); err != nil {
		return nil, err
	}
	return atts, tx.Commit()
}

const attachmentColumns = `id, case_id, name, content_type, size, lat, lon, uploaded_by, at`

func scanAttachment(r interface{ Scan(...any) error }, body *[]byte) (Attachment, error) {
	var a Attachment
	var lat, lon sql.NullFloat64
	var at int64
	dest := []any{&a.ID, &a.CaseID, &a.Name, &a.ContentType, &a.Size, &lat, &lon, &a.UploadedBy, &at}
	if body != nil {
		dest = append(dest, body)
	}
	if err := r.Scan(dest...); err != nil {
		return Attachment{}, err
	}
	if lat.Valid && lon.Valid {
		a.Lat, a.Lon = &lat.Float64, &lon.Float64
	}
	a.At = time.UnixMilli(at).UTC()
	return a, nil
}

// Attachments lists a case's photos, oldest first, without their bodies.
func (s *Store) Attachments(ctx context.Context, caseID string) ([]Attachment, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+attachmentColumns+` FROM case_attachments WHERE case_id = ? ORDER BY at, id`), caseID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Attachment{}
	for rows.Next() {
		a, err := scanAttachment(rows, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttachmentOf reads one photo of a case, with its body.
func (s *Store) AttachmentOf(ctx context.Context, caseID, id string) (Attachment, error) {
	var body []byte
	a, err := scanAttachment(s.db.QueryRowContext(ctx, s.q(`SELECT `+attachmentColumns+`, body FROM case_attachments WHERE case_id = ? AND id = ?`), caseID, id), &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, fmt.Errorf("attachment %s: %w", id, ErrNotFound)
	}
	a.Body = body
	return a, err
}
