{{ printf "%#08x" 255 }}
