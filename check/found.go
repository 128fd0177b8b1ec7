package check

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// found.bin: the read-back outcome of every write, so a finished run can be
// classified again offline. The magic "vcfound", a little-endian uint16
// version (1), the count as a little-endian uint64, then 2 bits per write
// (four to a byte, the first write in the low bits): 0 absent, 1 present
// with its own value, 2 present with another value; 3 never occurs. A
// little-endian CRC-32 (IEEE) of all preceding bytes closes the file. A
// million writes take 250 kB. Write it through result.WriteAtomic.
const (
	foundMagic   = "vcfound"
	foundVersion = 1
	foundHeader  = len(foundMagic) + 2 + 8
)

// Found codes on disk.
const (
	foundAbsent  = 0
	foundMatch   = 1
	foundCorrupt = 2
)

// WriteFound stores found in the found.bin format.
func WriteFound(w io.Writer, found []Found) error {
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
	hdr := append([]byte(foundMagic), 0, 0)
	binary.LittleEndian.PutUint16(hdr[len(foundMagic):], foundVersion)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(found)))
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("write found header: %w", err)
	}
	var cur byte
	for i, f := range found {
		var code byte
		switch {
		case f.Present && f.Match:
			code = foundMatch
		case f.Present:
			code = foundCorrupt
		case f.Match:
			return fmt.Errorf("write found: write %d matches but is not present", i)
		}
		cur |= code << (2 * (i % 4))
		if i%4 == 3 || i == len(found)-1 {
			if err := bw.WriteByte(cur); err != nil {
				return fmt.Errorf("write found: %w", err)
			}
			cur = 0
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write found: %w", err)
	}
	if err := binary.Write(w, binary.LittleEndian, crc.Sum32()); err != nil {
		return fmt.Errorf("write found checksum: %w", err)
	}
	return nil
}

// ReadFound reads a file written by WriteFound and verifies its checksum.
func ReadFound(r io.Reader) ([]Found, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read found: %w", err)
	}
	if len(data) < foundHeader+4 || string(data[:len(foundMagic)]) != foundMagic {
		return nil, errors.New("read found: not a valkey-chaos read-back file (bad magic)")
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(tail); got != want {
		return nil, fmt.Errorf("read found: checksum mismatch (file %08x, computed %08x): the file is truncated or corrupt", want, got)
	}
	if v := binary.LittleEndian.Uint16(body[len(foundMagic):]); v != foundVersion {
		return nil, fmt.Errorf("read found: version %d, this build reads %d", v, foundVersion)
	}
	count := binary.LittleEndian.Uint64(body[len(foundMagic)+2:])
	packed := body[foundHeader:]
	if count > uint64(len(packed))*4 || uint64(len(packed)) != (count+3)/4 {
		return nil, fmt.Errorf("read found: %d writes need %d bytes, the file has %d", count, (count+3)/4, len(packed))
	}
	found := make([]Found, count)
	for i := range found {
		switch code := packed[i/4] >> (2 * (i % 4)) & 3; code {
		case foundAbsent:
		case foundMatch:
			found[i] = Found{Present: true, Match: true}
		case foundCorrupt:
			found[i] = Found{Present: true}
		default:
			return nil, fmt.Errorf("read found: write %d has code %d, which no writer produces", i, code)
		}
	}
	return found, nil
}
