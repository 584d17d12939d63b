# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::pack' do
  let(:pre_condition) { "class { 'st2': pip_find_links => 'file:///opt/stackstorm/mirror' }" }
  let(:title) { 'mypack' }
  let(:exec_title) { 'st2 pack install mypack' }

  context 'from a file:// URL, with a config' do
    let(:params) { { source: 'file:///srv/packs/mypack', config: { 'region' => 'eu', 'nodes' => ['n1', 'n2'] } } }

    it { is_expected.to compile.with_all_deps }
    it 'installs it with packs.install, pip limited to the mirror' do
      is_expected.to contain_exec(exec_title).with(
        command: 'st2 run packs.install packs=file:///srv/packs/mypack ' \
                 "env=\\{\\\"PIP_NO_INDEX\\\":\\\"yes\\\",\\\"PIP_FIND_LINKS\\\":\\\"file:///opt/stackstorm/mirror\\\"\\} " \
                 "&& st2 pack list -a ref -j | grep -q '\"ref\": \"mypack\"'",
        unless: "st2 pack list -a ref -j | grep -q '\"ref\": \"mypack\"'",
        environment: ['ST2_CONFIG_FILE=/root/.st2/config', 'HOME=/root'],
        provider: 'shell',
      )
    end
    it 'writes the config before installing (registration checks it)' do
      is_expected.to contain_file('/opt/stackstorm/configs/mypack.yaml').with(
        ensure: 'file', owner: 'root', mode: '0600', content: "---\nregion: eu\nnodes:\n- n1\n- n2\n",
      ).that_comes_before("Exec[#{exec_title}]")
    end
    it { is_expected.to contain_file('/opt/stackstorm/configs').with(ensure: 'directory', owner: nil, mode: nil) }
    it { is_expected.to contain_exec(exec_title).that_requires(['Class[st2::services]', 'Class[st2::pip]', 'Class[st2::config]']) }
  end

  context 'with a config holding secrets' do
    let(:params) { { config: sensitive('token' => 'abc-123') } }

    it { is_expected.to contain_file('/opt/stackstorm/configs/mypack.yaml').with_content(sensitive("---\ntoken: abc-123\n")) }
    it { is_expected.not_to contain_exec(exec_title) }
  end

  context 'a pack shipped with the appliance: config only' do
    let(:title) { 'clush' }
    let(:params) { { config: { 'fanout' => 64 } } }

    it { is_expected.to contain_file('/opt/stackstorm/configs/clush.yaml').with_content("---\nfanout: 64\n") }
    it { is_expected.not_to contain_exec('st2 pack install clush') }
  end

  context 'with a served mirror and another CLI configuration' do
    let(:pre_condition) { "class { 'st2': pip_index_url => 'http://head1:8080/simple/', cli_config => '/etc/st2/cli.conf' }" }
    let(:params) { { source: 'file:///srv/packs/mypack' } }

    it { expect(param('Exec', exec_title, :command)).to include('PIP_INDEX_URL\\":\\"http://head1:8080/simple/\\",\\"PIP_TRUSTED_HOST\\":\\"head1\\"') }
    it { is_expected.to contain_exec(exec_title).with_environment(['ST2_CONFIG_FILE=/etc/st2/cli.conf', 'HOME=/root']) }
  end

  [
    ['a source from the network', { source: 'https://github.com/x/mypack' }, %r{source}],
    ['a source a shell would split', { source: "file:///srv/packs/my pack'" }, %r{source}],
  ].each do |what, bad, error|
    context "with #{what}" do
      let(:params) { bad }

      it { is_expected.to compile.and_raise_error(error) }
    end
  end

  context 'with a name that is not a pack name' do
    let(:title) { 'my-pack' }

    it { is_expected.to compile.and_raise_error(%r{pack}) }
  end
end
