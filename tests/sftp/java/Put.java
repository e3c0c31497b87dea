// JSch (PowerSchool's SFTP library) uploads each file named on the command line.
// java Put PORT PASSWORD KNOWN_HOSTS FILE...
import com.jcraft.jsch.*;
public class Put {
  public static void main(String[] a) throws Exception {
    JSch jsch = new JSch();
    jsch.setKnownHosts(a[2]);
    Session s = jsch.getSession("alpha", "127.0.0.1", Integer.parseInt(a[0]));
    s.setPassword(a[1]);
    s.setConfig("StrictHostKeyChecking", "yes");
    s.setConfig("PreferredAuthentications", "password");
    s.connect(20000);
    ChannelSftp c = (ChannelSftp) s.openChannel("sftp");
    c.connect(20000);
    for (int i = 3; i < a.length; i++) c.put(a[i], new java.io.File(a[i]).getName());
    String hostKey = s.getHostKey().getType();
    c.disconnect(); s.disconnect();
    System.out.println(hostKey);
  }
}
