package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"sharpeyes/cases"
	"sharpeyes/photo"
)

// Photos attached to a case: JPEG, PNG or HEIC, each at most maxPhoto,
// checked by content; EXIF GPS kept; all of a request's photos or none.
const (
	maxPhoto         = 10 << 20
	maxPhotosPerPost = 10
	attachmentsRoute = "/api/v1/cases/:id/attachments"
)

func (s *Server) postAttachments(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	var atts []cases.Attachment
	add := func(name, declared string, r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, maxPhoto+1))
		if err != nil {
			return jsonError(err) // a body over the request limit
		}
		info, err := photo.Check(b, declared, maxPhoto)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		atts = append(atts, cases.Attachment{Name: name, ContentType: info.ContentType, Lat: info.Lat, Lon: info.Lon, Body: b})
		if len(atts) > maxPhotosPerPost {
			return fmt.Errorf("%w: at most %d photos a request", ErrBadRequest, maxPhotosPerPost)
		}
		return nil
	}
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var err error
	switch {
	case mt == "multipart/form-data" && params["boundary"] != "":
		mr := multipart.NewReader(c.Request.Body, params["boundary"])
		for {
			part, perr := mr.NextPart()
			if perr == io.EOF {
				break
			}
			if perr != nil {
				err = fmt.Errorf("%w: multipart body: %v", ErrBadRequest, perr)
				break
			}
			if part.FileName() == "" {
				continue // a form field, not a file
			}
			if err = add(path.Base(part.FileName()), part.Header.Get("Content-Type"), part); err != nil {
				break
			}
		}
	case mt == "image/jpeg" || mt == "image/png" || mt == "image/heic" || mt == "image/heif":
		err = add(c.DefaultQuery("name", "photo"), mt, c.Request.Body)
	default:
		err = fmt.Errorf("%w: send photos as multipart/form-data (file parts) or one image/jpeg, image/png or image/heic body", ErrUnsupportedMedia)
	}
	if err == nil && len(atts) == 0 {
		err = fmt.Errorf("%w: no photo in the request", ErrBadRequest)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	saved, err := s.cases.Attach(c.Request.Context(), cs.ID, s.actor(principal(c), &cs, ""), atts)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"items": saved})
}

func (s *Server) listAttachments(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	items, err := s.cases.Attachments(c.Request.Context(), cs.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
}

func (s *Server) getAttachment(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	a, err := s.cases.AttachmentOf(c.Request.Context(), cs.ID, c.Param("att"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=86400")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": a.Name}))
	c.Data(http.StatusOK, a.ContentType, a.Body)
}

// photoStatus maps the photo checks' errors to HTTP statuses.
func photoStatus(err error) (int, bool) {
	switch {
	case errors.Is(err, photo.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, true
	case errors.Is(err, photo.ErrNotPhoto), errors.Is(err, photo.ErrTypeMismatch):
		return http.StatusUnsupportedMediaType, true
	}
	return 0, false
}
