package api

import (
	"errors"
	"testing"
)

// FuzzCameraImportCSV: any CSV upload is rows (each a camera or a row
// error) or a 400-class error; never a panic.
func FuzzCameraImportCSV(f *testing.F) {
	f.Add([]byte("id,name,main,sub,transport,on_demand,lat,lon,grid,tags\nc1,东口,rtsp://admin:pw@10.1.2.3/a,,tcp,true,32.41,119.41,,crossing;school\n"))
	f.Add([]byte("\ufeffid,name,main\n\"c1,cam,rtsp://h/a\n"))
	f.Add([]byte("id,name,main\n\"c1\"x,cam,rtsp://h/a\nc2,cam,rtsp://h/b\n"))
	f.Add([]byte("bogus\n1\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseCSVRows(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		for _, r := range rows {
			if r.err == nil {
				cam := r.in.camera()
				cam.Normalize()
				_ = cam.Validate()
			}
		}
	})
}

// FuzzCameraImportJSON: any JSON upload is rows or a 400-class error.
func FuzzCameraImportJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"c1","name":"n","streams":{"main":"rtsp://h/a"},"location":{"lat":32.4,"lon":119.4},"device":{"address":"10.1.2.3","channel":"1"}}]`))
	f.Add([]byte(`[{"id":1}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseJSONRows(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		for _, r := range rows {
			if r.err == nil {
				cam := r.in.camera()
				cam.Normalize()
				_ = cam.Validate()
			}
		}
	})
}
